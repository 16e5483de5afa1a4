// Sizes and durations as people read and write them (reports/util/units.hpp).
#include "tests/support/catch.hpp"

#include <cmath>

#include "reports/model/recommendation.hpp"
#include "reports/util/units.hpp"

using namespace batchtune;

TEST_CASE("sizes print in binary units", "[reports][units]") {
  CHECK(format_bytes(0) == "0 B");
  CHECK(format_bytes(1023) == "1023 B");
  CHECK(format_bytes(1536) == "1.5 KiB");
  CHECK(format_bytes(512ULL << 20) == "512.0 MiB");
  CHECK(format_bytes(24ULL << 30) == "24.0 GiB");
  CHECK(format_bytes(3ULL << 40) == "3.0 TiB");
  CHECK(format_bytes(2048ULL << 40) == "2048.0 TiB");  // no unit past TiB
}

TEST_CASE("a scale of sizes reads in the largest unit its top reaches twice", "[reports][units]") {
  CHECK(std::string(byte_unit_for(2047).name) == "B");
  CHECK(byte_unit_for(2047).bytes == 1);
  CHECK(std::string(byte_unit_for(2048).name) == "KiB");
  CHECK(byte_unit_for(2048).bytes == 1024);
  CHECK(std::string(byte_unit_for(2.0 * (1 << 20) - 1).name) == "KiB");
  CHECK(std::string(byte_unit_for(2.0 * (1 << 20)).name) == "MiB");
  CHECK(std::string(byte_unit_for(1.9 * (1 << 30)).name) == "MiB");
  CHECK(std::string(byte_unit_for(22.7 * (1 << 30)).name) == "GiB");
  CHECK(byte_unit_for(22.7 * (1 << 30)).bytes == double(1 << 30));
}

TEST_CASE("sizes parse from what people type", "[reports][units]") {
  const auto bytes = [](const char* text) { return parse_bytes(text).bytes; };
  CHECK(bytes("512MiB") == 512ULL << 20);
  CHECK(bytes("2GiB") == 2ULL << 30);
  CHECK(bytes("2 gib") == 2ULL << 30);
  CHECK(bytes("32Mi") == 32ULL << 20);
  CHECK(bytes("1.5GB") == 1500000000ULL);
  CHECK(bytes("16k") == 16000ULL);
  CHECK(bytes("1000000") == 1000000ULL);
  CHECK(bytes("7b") == 7ULL);
  CHECK(bytes("1TiB") == 1ULL << 40);
  CHECK(parse_bytes("512MiB").error.empty());
  SECTION("what format_bytes writes reads back") {
    CHECK(bytes(format_bytes(1536).c_str()) == 1536ULL);
    CHECK(bytes(format_bytes(512ULL << 20).c_str()) == 512ULL << 20);
  }
  SECTION("not a size: the reason, no exception") {
    for (const char* text : {"lots", "12XB", "", "MiB", ".", "-5MiB", "5 MiB extra"}) {
      const ParsedBytes p = parse_bytes(text);
      CHECK_FALSE(p.bytes.has_value());
      CHECK(p.error == "not a size; use bytes or a unit, such as 512MiB, 2GiB or 1.5GB");
    }
  }
  SECTION("outside 1 byte to 1 EB") {
    for (const char* text : {"0", "0.4", "0MiB", "2000000TB"}) {
      const ParsedBytes p = parse_bytes(text);
      CHECK_FALSE(p.bytes.has_value());
      CHECK(p.error == "must be between 1 byte and 1 EB");
    }
  }
}

TEST_CASE("durations print in the unit that reads best", "[reports][units]") {
  CHECK(format_seconds(0.64) == "0.64 s");
  CHECK(format_seconds(12.34) == "12.3 s");
  CHECK(format_seconds(252) == "4.2 min");
  CHECK(format_seconds(5400) == "90.0 min");  // minutes up to 100
  CHECK(format_seconds(9000) == "2.5 h");
  CHECK(format_seconds(std::nullopt) == "-");
  CHECK(format_seconds(NAN) == "-");
  CHECK(format_number(3.14159, "%.2f") == "3.14");
  CHECK(format_number(INFINITY, "%.2f") == "-");
  CHECK(format_number(std::nullopt, "%.2f") == "-");
}

TEST_CASE("intervals print their measured ends in words, never as 'a to -'", "[reports][units]") {
  CHECK(format_interval(228.0, 1734.0, "%.0f") == "228 to 1734");
  CHECK(format_interval(228.0, std::nullopt, "%.0f") == "at least 228");
  CHECK(format_interval(std::nullopt, 1734.0, "%.0f") == "at most 1734");
  CHECK(format_interval(std::nullopt, std::nullopt, "%.0f") == "no interval");
}

TEST_CASE("a noise-scale status reads as words", "[reports][units]") {
  CHECK(describe(NoiseScaleStatus::not_measured) == "not measured");
  CHECK(describe(NoiseScaleStatus::measured) == "measured");
  CHECK(describe(NoiseScaleStatus::noise_dominates).rfind("noise dominates", 0) == 0);
}
