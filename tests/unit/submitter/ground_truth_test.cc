#include "submitter/ground_truth.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/status_matchers.h"

namespace btrq::submitter {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr char kUuid[] = "0f3c2a1b-9d8e-4f70-a1b2-c3d4e5f60718";
constexpr int64_t kStart = 1'704'067'200'000'000'000;  // 2024-01-01T00:00:00Z
constexpr int64_t kHour = 3'600'000'000'000;

// A chunk's truth as the generator writes it (lite/manifest.cc), `extra` appended.
std::string Chunk(int64_t start, int64_t count, const std::string& extra = "") {
  return R"({"start": )" + std::to_string(start) + R"(, "end": )" + std::to_string(start + kHour) +
         R"(, "count": )" + std::to_string(count) +
         R"(, "duplicates": 0, "unique": 3600, "expected": 3600, "gaps": 0,
            "nonfinite": 0, "out_of_range": 1, "longest_stuck": 0, "stuck_runs": 0,
            "stuck_points": 0, "missing_seconds": 0.0, "completeness": 1.0,
            "score": 0.99972222222222223, "min": -1.5, "max": 60.1)" +
         extra + "}";
}

std::string ManifestText() {
  return R"({"format": "btrq-generate-manifest/1", "seed": 1, "stuck_min": 12,
    "gap_factor": 2.5, "defects": true, "kinds": {"voltage": {"unit": "V", "min": 0, "max": 1}},
    "streams": [{"uuid": ")" + std::string(kUuid) + R"(", "name": "sensor00/voltage",
      "kind": "voltage", "defects": [{"type": "gap", "value": null}], "truth": {"count": 7},
      "chunks": [)" + Chunk(kStart, 3600) + ", " + Chunk(kStart + kHour, 3599) + "]}]}";
}

results::StoredResult ResultFor(int64_t start, int64_t count, double min = -1.5) {
  results::StoredResult r;
  r.result.task.key.stream = *Uuid::Parse(kUuid);
  r.result.task.key.start = start;
  r.result.fields = {{"count", count},
                     {"duplicates", int64_t{0}},
                     {"unique", int64_t{3600}},
                     {"expected", int64_t{3600}},
                     {"gaps", int64_t{0}},
                     {"nonfinite", int64_t{0}},
                     {"out_of_range", int64_t{1}},
                     {"longest_stuck", int64_t{0}},
                     {"stuck_runs", int64_t{0}},
                     {"missing_seconds", 0.0},
                     {"completeness", 1.0},
                     {"score", 0.99972222222222223 * (1 + 1e-12)},  // within 1e-9
                     {"min", min},
                     {"max", 60.1}};
  return r;
}

TEST(ParseManifest, ReadsTheTruthOfEveryChunk) {
  ASSERT_OK_AND_ASSIGN(Manifest m, ParseManifest(ManifestText()));
  EXPECT_EQ(m.stuck_min, 12);
  EXPECT_EQ(m.gap_factor, 2.5);
  EXPECT_EQ(m.chunk_count, 2u);
  ASSERT_EQ(m.streams.count(kUuid), 1u);
  const ManifestStream& s = m.streams.at(kUuid);
  EXPECT_EQ(s.name, "sensor00/voltage");
  EXPECT_EQ(s.kind, "voltage");
  ASSERT_EQ(s.chunks.count(kStart + kHour), 1u);
  const TruthChunk& c = s.chunks.at(kStart + kHour);
  EXPECT_EQ(c.end, kStart + 2 * kHour);
  EXPECT_EQ(c.fields.at("count"), 3599);
  EXPECT_EQ(c.fields.at("min"), -1.5);
  EXPECT_EQ(c.fields.count("stuck_points"), 0u);  // not compared
}

TEST(ParseManifest, NamesWhatIsMissingOrMalformed) {
  std::string text = ManifestText();
  text.replace(text.find(R"("count": 3599)"), 13, R"("count": 3.5)");
  Result<Manifest> bad = ParseManifest(text);
  ASSERT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("streams[0].chunks[1]: count is not an integer"));

  text = ManifestText();
  text.replace(text.find(R"("gaps": 0,)"), 10, "");
  EXPECT_THAT(ParseManifest(text).status().message(), HasSubstr("streams[0].chunks[0]: no gaps"));

  for (const std::string& broken :
       {std::string("{\"stuck_min\": 1"), std::string("[1, 2,]"), ManifestText() + " x",
        std::string(40, '[') + std::string(40, ']')}) {
    EXPECT_EQ(ParseManifest(broken).status().code(), StatusCode::kInvalidArgument) << broken;
  }
  EXPECT_THAT(ParseManifest(R"({"gap_factor": 2, "streams": []})").status().message(),
              HasSubstr("no stuck_min"));
}

TEST(CheckTruth, MatchingResultsPass) {
  ASSERT_OK_AND_ASSIGN(Manifest m, ParseManifest(ManifestText()));
  const TruthCheck check = CheckTruth(m, {ResultFor(kStart, 3600), ResultFor(kStart + kHour, 3599)});
  EXPECT_TRUE(check.ok());
  EXPECT_EQ(check.matched, 2u);
}

TEST(CheckTruth, EveryDifferenceIsNamed) {
  ASSERT_OK_AND_ASSIGN(Manifest m, ParseManifest(ManifestText()));
  results::StoredResult no_min = ResultFor(kStart + kHour, 3599);
  no_min.result.fields.erase(no_min.result.fields.end() - 2);  // "min"
  results::StoredResult stranger = ResultFor(kStart + 5 * kHour, 1);
  const TruthCheck check = CheckTruth(m, {ResultFor(kStart, 3601, -1.6), stranger});
  EXPECT_FALSE(check.ok());
  EXPECT_EQ(check.matched, 0u);
  EXPECT_THAT(check.problems,
              ElementsAre("sensor00/voltage 2024-01-01T00:00:00Z: count 3601 (truth 3600), "
                          "min -1.6 (truth -1.5)",
                          "sensor00/voltage 2024-01-01T05:00:00Z: a result the manifest has no "
                          "chunk for",
                          "sensor00/voltage 2024-01-01T01:00:00Z: no result"));
  const TruthCheck missing = CheckTruth(m, {ResultFor(kStart, 3600), no_min});
  EXPECT_THAT(missing.problems,
              ElementsAre("sensor00/voltage 2024-01-01T01:00:00Z: min missing (truth -1.5)"));
}

TEST(FieldNumber, ReadsIntegersAndDoublesOnly) {
  const Fields f = {{"a", int64_t{3}}, {"b", 2.5}, {"c", std::string("x")}};
  EXPECT_EQ(FieldNumber(f, "a"), 3.0);
  EXPECT_EQ(FieldNumber(f, "b"), 2.5);
  EXPECT_EQ(FieldNumber(f, "c"), std::nullopt);
  EXPECT_EQ(FieldNumber(f, "d"), std::nullopt);
}

}  // namespace
}  // namespace btrq::submitter
