// Plain RocksDB access to a ledger's data dir, underneath the ledger, for tests that damage,
// stamp or inspect it (ledger_damage_test, ledger_tamper_test, format_fixture_test).
// Thread-safety: test threads only; nothing else may have the data dir open.
#pragma once

#include <doctest/doctest.h>
#include <rocksdb/db.h>

#include <string>
#include <string_view>
#include <vector>

namespace waybill::testing {

using RawFamilies = std::vector<rocksdb::ColumnFamilyHandle*>;

// Opens `dir` with every column family (default options), runs `fn(db, families)`, and closes
// the database again.
template <class Fn>
void WithRawRocksDb(const std::string& dir, Fn fn) {
  rocksdb::Options o;
  std::vector<std::string> names;
  REQUIRE(rocksdb::DB::ListColumnFamilies(o, dir, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const auto& n : names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  RawFamilies handles;
  rocksdb::DB* db = nullptr;
  REQUIRE(rocksdb::DB::Open(o, dir, cfs, &handles, &db).ok());
  fn(*db, handles);
  for (auto* h : handles) REQUIRE(db->DestroyColumnFamilyHandle(h).ok());
  REQUIRE(db->Close().ok());
  delete db;
}

// The family called `name` among `families`; fails the test when there is none.
inline rocksdb::ColumnFamilyHandle* RawFamily(const RawFamilies& families, std::string_view name) {
  for (auto* h : families) {
    if (h->GetName() == name) return h;
  }
  FAIL("no column family " << name);
  return nullptr;
}

}  // namespace waybill::testing
