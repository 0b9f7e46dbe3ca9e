// The x12 adapter on small generated inputs: envelope structure, separators, partners and
// profiles, and inputs that must be handled in linear time.
#include <doctest/doctest.h>

#include <chrono>

#include "ingest/x12/x12_segments.h"
#include "ingest/x12/x12_test_util.h"
#include "schemas/time.h"

namespace waybill::ingest {
namespace {

using x12_test::Errors;
using x12_test::HasError;
using x12_test::Interchange;
using x12_test::MapX12;
using x12_test::SetSpec;

const SetSpec kStatus{"214", {"B10*PRO*SHIP-1*ACME", "LX*1", "AT7*X6*NS***20250310*1200*UT"}};

TEST_CASE("documents without any interchange yield one rejected message") {
  for (std::string doc : {std::string(), std::string(" \r\n\t"), std::string("hello")}) {
    CAPTURE(doc);
    const auto msgs = MapX12(doc);
    REQUIRE(msgs.size() == 1);
    CHECK(msgs[0].rejected());
    CHECK(msgs[0].unit == doc);  // the whole document
  }
  const std::string truncated = "ISA*00*  *00";
  const auto msgs = MapX12(truncated);
  REQUIRE(msgs.size() == 1);
  CHECK(HasError(msgs[0], "byte 0: ISA segment: found 3 of its 16 elements"));
}

TEST_CASE("separators must be distinct special characters") {
  std::string doc = Interchange({kStatus});
  // Make the segment terminator (the byte after ISA16) a letter.
  const std::size_t term = doc.find('~');
  doc[term] = 'X';
  const auto msgs = MapX12(doc);
  REQUIRE_FALSE(msgs.empty());
  CHECK(msgs[0].rejected());
  CHECK(HasError(msgs[0], "ISA segment terminator \"X\""));
}

TEST_CASE("a set without SE, a stray segment and a repeated ST02") {
  std::string doc = x12_test::Isa("ACMEFREIGHT", "000000042");
  doc += "GS*QM*ACMEFREIGHT*WAYBILL*20250310*1500*1*X*004010~\n";
  doc += "ST*214*0001~\nB10*PRO*SHIP-1*ACME~\nLX*1~\nAT7*X6*NS***20250310*1200*UT~\n";  // no SE
  doc += "ST*214*0002~\nB10*PRO*SHIP-2*ACME~\nLX*1~\nAT7*X6*NS***20250310*1200*UT~\nSE*5*0002~\n";
  doc += "N1*ZZ*STRAY~\n";
  doc += "ST*214*0002~\nB10*PRO*SHIP-3*ACME~\nLX*1~\nAT7*X6*NS***20250310*1200*UT~\nSE*5*0002~\n";
  doc += "GE*3*1~\nIEA*1*000000042~\n";
  const auto msgs = MapX12(doc);
  REQUIRE(msgs.size() == 4);
  CHECK(msgs[0].position == "ISA 000000042/GS 1/ST 0001");
  CHECK(HasError(msgs[0], "ST (segment 1): transaction set \"0001\" has no SE trailer before ST"));
  CHECK(msgs[1].position == "ISA 000000042/GS 1/ST 0002");
  REQUIRE_MESSAGE(msgs[1].errors.empty(), Errors(msgs[1]));
  CHECK(msgs[1].events.size() == 1);
  CHECK(msgs[2].position == "ISA 000000042/GS 1/segment 12");
  CHECK(HasError(msgs[2], "N1 (interchange segment 12): segment outside a transaction set"));
  CHECK(HasError(msgs[3],
                 "ST (segment 1) element 02: control number \"0002\" is used by an "
                 "earlier set of group \"1\""));
}

TEST_CASE("ST02 and SE02 must match") {
  std::string doc = Interchange({kStatus});
  const std::size_t se = doc.find("SE*5*0001");
  REQUIRE(se != std::string::npos);
  doc.replace(se, 9, "SE*5*0009");
  const auto msgs = MapX12(doc);
  REQUIRE(msgs.size() == 1);
  CHECK(HasError(msgs[0],
                 "SE (segment 5) element 02: control number \"0009\" does not match "
                 "ST02 \"0001\""));
}

TEST_CASE("partner: ctx.partner, else ISA06; profiles set envelope zone and currency") {
  const SetSpec invoice{"210",
                        {"B3**INV-1*SHIP-1*PP**20250324*1500****ACME", "LX*1", "L1*1***1500"}};
  const std::string doc = Interchange({kStatus, invoice}, "CANADA", "000000050");
  SUBCASE("no profile: UTC envelope, USD") {
    const auto msgs = MapX12(doc);
    REQUIRE(msgs.size() == 2);
    REQUIRE_MESSAGE(msgs[1].errors.empty(), Errors(msgs[1]));
    CHECK(msgs[0].events.at(0).source.partner == "CANADA");
    CHECK(msgs[1].events.at(0).charges->currency == "USD");
    CHECK(FormatUtc(msgs[1].events.at(0).occurred_at) == "2025-03-24T00:00:00Z");
  }
  SUBCASE("profile by ctx.partner") {
    PartnerProfiles profiles;
    PartnerProfile p;
    p.id = "CN-RAIL";
    p.default_currency = "CAD";
    p.envelope_time_zone = "America/Toronto";
    profiles.Add(p);
    const auto msgs = MapX12(doc, profiles, std::string("CN-RAIL"));
    REQUIRE(msgs.size() == 2);
    REQUIRE_MESSAGE(msgs[1].errors.empty(), Errors(msgs[1]));
    CHECK(msgs[0].events.at(0).source.partner == "CN-RAIL");
    const Event& inv = msgs[1].events.at(0);
    CHECK(inv.charges->currency == "CAD");
    CHECK(inv.charges->total == 1500);
    CHECK(FormatUtc(inv.occurred_at) == "2025-03-24T04:00:00Z");  // midnight EDT
    CHECK(inv.occurred_offset_minutes == -240);
  }
}

TEST_CASE("a 214 estimate's issued_at follows the envelope zone of the profile") {
  const SetSpec eta{"214", {"B10*PRO*SHIP-1*ACME", "LX*1", "AT7*AG*NS***20250320*1000*UT"}};
  const std::string doc = Interchange({eta}, "ACMEFREIGHT", "000000051", "20250318", "0900");
  PartnerProfiles profiles;
  PartnerProfile p;
  p.id = "ACMEFREIGHT";
  p.envelope_time_zone = "America/Chicago";
  profiles.Add(p);
  const auto msgs = MapX12(doc, profiles);
  REQUIRE(msgs.size() == 1);
  REQUIRE_MESSAGE(msgs[0].errors.empty(), Errors(msgs[0]));
  const Event& e = msgs[0].events.at(0);
  CHECK(FormatUtc(e.estimate->issued_at) == "2025-03-18T14:00:00Z");  // 09:00 CDT
  CHECK(FormatUtc(e.estimate->estimated_at) == "2025-03-20T10:00:00Z");
}

TEST_CASE("element lengths, GS dates and MS1 country codes are validated") {
  const SetSpec long_id{
      "214", {"B10*PRO*" + std::string(31, 'S') + "*ACME", "LX*1", "AT7*X6*NS***20250310*1200*UT"}};
  const SetSpec bad_country{
      "214", {"B10*PRO*SHIP-1*ACME", "LX*1", "AT7*X6*NS***20250310*1200*UT", "MS1*PARIS**FRA"}};
  const SetSpec bad_time{"214", {"B10*PRO*SHIP-1*ACME", "LX*1", "AT7*X6*NS***20250310*2460*UT"}};
  const auto msgs = MapX12(Interchange({long_id, bad_country, bad_time}));
  REQUIRE(msgs.size() == 3);
  CHECK(HasError(msgs[0], "B10 (segment 2) element 02: \"SSSS"));
  CHECK(HasError(msgs[0], "is 31 characters long, 1-30 expected"));
  CHECK(HasError(msgs[1], "MS1 (segment 5) element 03: \"FRA\" is not an ISO 3166-1 alpha-2"));
  CHECK(HasError(msgs[2], "AT7 (segment 4) element 06: \"2460\" is not a time"));

  const auto bad_gs = MapX12(Interchange({kStatus}, "ACMEFREIGHT", "000000001", "20250230"));
  REQUIRE(bad_gs.size() == 1);
  CHECK(HasError(bad_gs[0], "GS (interchange segment 2) element 04: \"20250230\" is not a date"));
}

TEST_CASE("huge inputs are handled in linear time") {
  SUBCASE("a segment with a million elements") {
    std::string doc = Interchange({kStatus});
    const std::size_t at = doc.find("LX*1");
    doc.insert(at, "NTE" + std::string(1'000'000, '*') + "~\n");
    const auto start = std::chrono::steady_clock::now();
    const auto msgs = MapX12(doc);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
    REQUIRE(msgs.size() == 1);
    CHECK(HasError(msgs[0], "segment count"));  // SE01 no longer matches
  }
  SUBCASE("100,000 sets in one group") {
    std::vector<SetSpec> sets(100'000, kStatus);
    const std::string doc = Interchange(sets);
    const auto start = std::chrono::steady_clock::now();
    const auto msgs = MapX12(doc);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(20));
    REQUIRE(msgs.size() == 100'000);
    CHECK(msgs.back().errors.empty());
  }
  SUBCASE("a thousand errors in one set are capped") {
    SetSpec bad{"214", {"B10*PRO*SHIP-1*ACME", "LX*1"}};
    for (int i = 0; i < 1000; ++i) bad.body.push_back("AT7*X6*NS***20251301*1200*UT");
    const auto msgs = MapX12(Interchange({bad}));
    REQUIRE(msgs.size() == 1);
    CHECK(msgs[0].errors.size() == 51);
    CHECK(msgs[0].errors.back() == "further errors omitted");
  }
}

TEST_CASE("a UTF-8 byte order mark before the first ISA is ignored") {
  const std::string doc = "\xEF\xBB\xBF" + Interchange({kStatus});
  const auto msgs = MapX12(doc);
  REQUIRE(msgs.size() == 1);
  CHECK_MESSAGE(msgs[0].errors.empty(), Errors(msgs[0]));
}

TEST_CASE("segments split with or without line breaks and with CR LF") {
  std::string doc = Interchange({kStatus});
  std::string no_breaks;
  std::string crlf;
  for (char c : doc) {
    if (c == '\n') {
      crlf += "\r\n";
      continue;
    }
    no_breaks += c;
    crlf += c;
  }
  for (const std::string& d : {doc, no_breaks, crlf}) {
    const auto msgs = MapX12(d);
    REQUIRE(msgs.size() == 1);
    CHECK_MESSAGE(msgs[0].errors.empty(), Errors(msgs[0]));
    CHECK(msgs[0].events.size() == 1);
  }
}

}  // namespace
}  // namespace waybill::ingest
