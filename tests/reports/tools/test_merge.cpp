// `batchtune merge`: the parts of a sharded sweep joined back into the
// report the unsharded sweep would have written, and parts that do not
// belong together refused with the difference named.
#include "tests/support/catch.hpp"

#include <fstream>

#include <nlohmann/json.hpp>

#include "reports/util/error.hpp"
#include "reports/tools/merge.hpp"
#include "tests/support/temp_dir.hpp"

using namespace batchtune;

namespace {

nlohmann::ordered_json fixture_json() {
  std::ifstream in(std::string(BATCHTUNE_FIXTURES_DIR) + "/report_mlp_small.json");
  return nlohmann::ordered_json::parse(in);
}

// Part `index` of `count` of the fixture's sweep, as `sweep --shard` writes
// it: every count-th arm from the index-th, the shard record, and a
// recommendation that is only a record (status none, the noise scale in
// part 1 only).
nlohmann::ordered_json part_of(const nlohmann::ordered_json& whole, int index, int count) {
  nlohmann::ordered_json p = whole;
  auto& sweep = p["sweep"];
  nlohmann::ordered_json arms = nlohmann::ordered_json::array();
  std::vector<std::int64_t> sizes;
  for (std::size_t i = 0; i < whole["sweep"]["arms"].size(); ++i) {
    const auto& a = whole["sweep"]["arms"][i];
    if (std::find(sizes.begin(), sizes.end(), a["batch_size"].get<std::int64_t>()) == sizes.end()) {
      sizes.push_back(a["batch_size"].get<std::int64_t>());
    }
    if (static_cast<int>(i % static_cast<std::size_t>(count)) == index - 1) arms.push_back(a);
  }
  sweep["arms"] = arms;
  sweep["shard"] = {{"index", index}, {"count", count}, {"batch_sizes", sizes},
                    {"arms_planned", whole["sweep"]["arms"].size()}};
  auto& rec = p["recommendation"];
  rec["status"] = "none";
  rec["batch_size"] = nullptr;
  if (index != 1) rec["noise_scale"]["status"] = "not_measured";
  return p;
}

struct Parts {
  test::TempDir dir;
  std::vector<MergeInput> inputs;
  void add(const nlohmann::ordered_json& j, const std::string& name) {
    const std::string path = dir.file(name);
    std::ofstream(path) << j.dump(2);
    MergeInput m;
    m.report = read_report(path);
    m.json = j;
    inputs.push_back(std::move(m));
  }
};

std::string merge_error(const std::vector<MergeInput>& parts) {
  try {
    merge_reports(parts, {});
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("merged parts are the unsharded sweep: same arms, same recommendation", "[reports][merge]") {
  const auto whole = fixture_json();
  const Report original = read_report(std::string(BATCHTUNE_FIXTURES_DIR) + "/report_mlp_small.json");
  for (int count : {2, 3}) {
    DYNAMIC_SECTION(count << " parts, given in reverse order") {
      Parts parts;
      for (int i = count; i >= 1; --i) parts.add(part_of(whole, i, count), "part" + std::to_string(i) + ".json");
      const MergeResult merged = merge_reports(parts.inputs, {});
      const Report r = report_from_json(nlohmann::json::parse(merged.report.dump()), "merged");
      REQUIRE(r.sweep);
      CHECK_FALSE(r.sweep->shard);
      CHECK_FALSE(r.sweep->incomplete);
      REQUIRE(r.sweep->arms.size() == original.sweep->arms.size());
      for (std::size_t i = 0; i < r.sweep->arms.size(); ++i) {
        CHECK(nlohmann::json(r.sweep->arms[i]) == nlohmann::json(original.sweep->arms[i]));
      }
      CHECK(r.sweep->target_loss == original.sweep->target_loss);
      // The recommendation from the same measurements, the same noise scale.
      const Recommendation expected =
          recommend(*original.sweep, &*original.probe, original.workload, original.recommendation->noise_scale, {});
      REQUIRE(r.recommendation);
      REQUIRE(r.recommendation->recommends());
      CHECK(r.recommendation->batch_size == expected.batch_size);
      CHECK(r.recommendation->reasons == expected.reasons);
      CHECK(r.recommendation->noise_scale.status == original.recommendation->noise_scale.status);
      CHECK(merged.report["context"]["merged_from"].size() == static_cast<std::size_t>(count));
    }
  }
}

TEST_CASE("parts that do not belong together are refused with the difference named", "[reports][merge]") {
  const auto whole = fixture_json();
  SECTION("a part missing") {
    Parts parts;
    parts.add(part_of(whole, 1, 3), "a.json");
    parts.add(part_of(whole, 3, 3), "c.json");
    CHECK_THAT(merge_error(parts.inputs), Catch::Contains("part 2/3 of the sweep is missing"));
  }
  SECTION("a part given twice") {
    Parts parts;
    parts.add(part_of(whole, 1, 2), "a.json");
    parts.add(part_of(whole, 1, 2), "b.json");
    CHECK_THAT(merge_error(parts.inputs), Catch::Contains("given twice"));
  }
  SECTION("another workload") {
    Parts parts;
    parts.add(part_of(whole, 1, 2), "a.json");
    auto other = part_of(whole, 2, 2);
    other["workload"]["seed"] = 7;
    parts.add(other, "b.json");
    CHECK_THAT(merge_error(parts.inputs), Catch::Contains("workload.seed"));
  }
  SECTION("another budget") {
    Parts parts;
    parts.add(part_of(whole, 1, 2), "a.json");
    auto other = part_of(whole, 2, 2);
    other["sweep"]["budget_value"] = 999;
    parts.add(other, "b.json");
    CHECK_THAT(merge_error(parts.inputs), Catch::Contains("sweep.budget_value"));
  }
  SECTION("another plan of sizes") {
    Parts parts;
    parts.add(part_of(whole, 1, 2), "a.json");
    auto other = part_of(whole, 2, 2);
    other["sweep"]["shard"]["batch_sizes"] = {16, 64, 128};
    parts.add(other, "b.json");
    CHECK_THAT(merge_error(parts.inputs), Catch::Contains("list --batch-sizes"));
  }
  SECTION("another machine class") {
    Parts parts;
    parts.add(part_of(whole, 1, 2), "a.json");
    auto other = part_of(whole, 2, 2);
    other["context"]["machine"]["cpu_model"] = "Some Other CPU";
    parts.add(other, "b.json");
    CHECK_THAT(merge_error(parts.inputs), Catch::Contains("machine.cpu_model"));
  }
  SECTION("a report that is not a part") {
    Parts parts;
    parts.add(part_of(whole, 1, 2), "a.json");
    parts.add(whole, "whole.json");
    CHECK_THAT(merge_error(parts.inputs), Catch::Contains("is not a part of a sharded sweep"));
  }
}

TEST_CASE("an incomplete part makes an incomplete report that recommends nothing", "[reports][merge]") {
  const auto whole = fixture_json();
  Parts parts;
  parts.add(part_of(whole, 1, 2), "a.json");
  auto cut = part_of(whole, 2, 2);
  cut["sweep"]["arms"].erase(cut["sweep"]["arms"].size() - 1);
  cut["sweep"]["incomplete"] = true;
  cut["sweep"]["incomplete_reason"] = "interrupted by SIGTERM";
  parts.add(cut, "b.json");
  const MergeResult merged = merge_reports(parts.inputs, {});
  const Report r = report_from_json(nlohmann::json::parse(merged.report.dump()), "merged");
  CHECK(r.sweep->incomplete);
  CHECK_THAT(r.sweep->incomplete_reason, Catch::Contains("part 2/2"));
  CHECK(r.sweep->arms.size() == 5);
  CHECK_FALSE(r.recommendation);
}
