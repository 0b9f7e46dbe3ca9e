// The `waybill` commands. Each takes argv with argv[0] = the command name and returns the
// process exit code (cli_common.h).
#pragma once

namespace waybill::cli {

int RunImport(int argc, char** argv);
int RunHistory(int argc, char** argv);
int RunVerify(int argc, char** argv);
int RunStats(int argc, char** argv);
int RunDlq(int argc, char** argv);
int RunView(int argc, char** argv);
int RunAsOf(int argc, char** argv);
int RunRebuild(int argc, char** argv);
int RunRepublish(int argc, char** argv);
int RunExport(int argc, char** argv);
int RunServe(int argc, char** argv);
int RunSend(int argc, char** argv);
int RunBackup(int argc, char** argv);
int RunRestore(int argc, char** argv);

}  // namespace waybill::cli
