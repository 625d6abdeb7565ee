#include "results/export.h"

#include <gtest/gtest.h>

#include <limits>

#include "btrq/v1/control.pb.h"
#include "results/result_proto.h"
#include "tests/support/status_matchers.h"

namespace btrq::results {
namespace {

constexpr char kStream[] = "0f3c2a10-5b6d-4e7f-8091-a2b3c4d5e6f7";

StoredResult Example() {
  StoredResult s;
  TaskResult& r = s.result;
  r.task.key.job = 7;
  r.task.key.stream = Uuid::Parse(kStream).value();
  r.task.key.start = 1700000000000000000;
  r.task.attempt = 2;
  r.end = 1700043200000000000;
  r.version = 42;
  r.worker_id = "host-a:17:x";
  r.fields = {{"count", int64_t{-10}},
              {"score", 0.1},
              {"mean", std::numeric_limits<double>::quiet_NaN()},
              {"max", -std::numeric_limits<double>::infinity()},
              {"label", std::string("say \"hi\", then\nbye\t\x01")},
              {"job", int64_t{3}}};
  r.duration_ns = 5;
  r.points_read = 6;
  s.stored_at = 1700000000000000001;
  return s;
}

TEST(JsonLines, WritesFixedColumnsThenFlattenedFields) {
  EXPECT_EQ(ToJsonLine(Example()),
            "{\"job\":7,\"stream\":\"0f3c2a10-5b6d-4e7f-8091-a2b3c4d5e6f7\","
            "\"start\":1700000000000000000,\"end\":1700043200000000000,\"version\":42,"
            "\"status\":\"done\",\"attempt\":2,\"worker\":\"host-a:17:x\","
            "\"count\":-10,\"score\":0.1,\"mean\":null,\"max\":null,"
            "\"label\":\"say \\\"hi\\\", then\\nbye\\t\\u0001\",\"field_job\":3}\n");
}

TEST(JsonLines, DoublesRoundTripAndInvalidUtf8IsReplaced) {
  StoredResult s = Example();
  s.result.fields = {{"third", 1.0 / 3.0}, {"big", 1e300}, {"whole", 2.0},
                     {"bytes", std::string("a\xff" "b\xc3\xa9")}};
  const std::string line = ToJsonLine(s);
  EXPECT_NE(line.find("\"third\":0.3333333333333333,"), std::string::npos) << line;
  EXPECT_NE(line.find("\"big\":1e+300,"), std::string::npos) << line;
  EXPECT_NE(line.find("\"whole\":2,"), std::string::npos) << line;
  EXPECT_NE(line.find("\"bytes\":\"a\\ufffdb\xc3\xa9\"}"), std::string::npos) << line;
}

TEST(Csv, HeaderIsFixedColumnsPlusFieldUnionOfTheFirstPage) {
  StoredResult a = Example();
  a.result.fields = {{"count", int64_t{1}}, {"score", 0.25}};
  StoredResult b = Example();
  b.result.task.key.start += 1;
  b.result.fields = {{"score", 0.5}, {"note", std::string("x,y")}};
  CsvWriter writer({a, b});
  std::string out;
  writer.AppendHeader(&out);
  writer.AppendRow(a, &out);
  writer.AppendRow(b, &out);
  EXPECT_EQ(out,
            "job,stream,start,end,version,status,attempt,worker,count,score,note\r\n"
            "7,0f3c2a10-5b6d-4e7f-8091-a2b3c4d5e6f7,1700000000000000000,1700043200000000000,"
            "42,done,2,host-a:17:x,1,0.25,\r\n"
            "7,0f3c2a10-5b6d-4e7f-8091-a2b3c4d5e6f7,1700000000000000001,1700043200000000000,"
            "42,done,2,host-a:17:x,,0.5,\"x,y\"\r\n");
}

TEST(Csv, QuotesPerRfc4180AndSpellsNonFiniteNumbers) {
  const StoredResult s = Example();
  CsvWriter writer({s});
  std::string out;
  writer.AppendHeader(&out);
  writer.AppendRow(s, &out);
  EXPECT_EQ(out,
            "job,stream,start,end,version,status,attempt,worker,count,score,mean,max,label,"
            "field_job\r\n"
            "7,0f3c2a10-5b6d-4e7f-8091-a2b3c4d5e6f7,1700000000000000000,1700043200000000000,"
            "42,done,2,host-a:17:x,-10,0.1,nan,-inf,\"say \"\"hi\"\", then\nbye\t\x01\",3\r\n");
}

TEST(Csv, FormulaLikeTextCellsGetAQuoteInFront) {
  StoredResult s = Example();
  s.result.worker_id = "@w";
  s.result.fields = {{"a", std::string("=1+2")}, {"b", std::string("+x")},
                     {"c", std::string("-y,z")}, {"d", std::string("\tt")},
                     {"e", std::string("ok=")}, {"f", int64_t{-5}}, {"g", -2.5}};
  CsvWriter writer({s});
  std::string out;
  writer.AppendRow(s, &out);
  EXPECT_EQ(out,
            "7,0f3c2a10-5b6d-4e7f-8091-a2b3c4d5e6f7,1700000000000000000,1700043200000000000,"
            "42,done,2,'@w,'=1+2,'+x,\"'-y,z\",'\tt,ok=,-5,-2.5\r\n");
}

TEST(Csv, FieldsUnknownToTheHeaderAreLeftOut) {
  StoredResult a = Example();
  a.result.fields = {{"count", int64_t{1}}};
  StoredResult b = Example();
  b.result.fields = {{"extra", int64_t{9}}, {"count", int64_t{2}}};
  CsvWriter writer({a});
  std::string out;
  writer.AppendRow(b, &out);
  EXPECT_EQ(out,
            "7,0f3c2a10-5b6d-4e7f-8091-a2b3c4d5e6f7,1700000000000000000,1700043200000000000,"
            "42,done,2,host-a:17:x,2\r\n");
}

TEST(ResultProto, RoundTripsEveryColumn) {
  const StoredResult s = Example();
  v1::Result proto;
  ToProto(s, &proto);
  EXPECT_EQ(proto.key().stream().size(), 16u);
  ASSERT_OK_AND_ASSIGN(StoredResult back, ResultFromProto(proto));
  EXPECT_EQ(ToJsonLine(back), ToJsonLine(s));
  EXPECT_EQ(back.result.duration_ns, 5);
  EXPECT_EQ(back.result.points_read, 6);
  EXPECT_EQ(back.stored_at, s.stored_at);
}

TEST(ResultProto, RejectsABadStreamAndAnEmptyValue) {
  v1::Result proto;
  ToProto(Example(), &proto);
  v1::Result bad_stream = proto;
  bad_stream.mutable_key()->set_stream("short");
  EXPECT_FALSE(ResultFromProto(bad_stream).ok());
  v1::Result empty_value = proto;
  empty_value.add_fields()->set_name("nothing");
  EXPECT_FALSE(ResultFromProto(empty_value).ok());
}

}  // namespace
}  // namespace btrq::results
