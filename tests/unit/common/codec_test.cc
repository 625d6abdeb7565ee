// The codec's round trips and accepted formats: every message type, field kinds and
// extremes, the frame layout, optional and unknown keys. Hostile frames:
// codec_hostile_test.cc.

#include "common/codec.h"

#include <gtest/gtest.h>

#include <limits>

#include "tests/support/status_matchers.h"
#include "tests/unit/common/codec_test_util.h"

namespace btrq {
namespace {

using ::btrq::testing::StatusIs;

TEST(Codec, LeaseFieldsRoundTripAndAreOptional) {
  TaskMsg tasks{{MakeTask(1)}};
  tasks.tasks[0].lease_token = "0123456789abcdef";
  ASSERT_OK_AND_ASSIGN(Message m, DecodeMessage(EncodeMessage(Message(tasks))));
  EXPECT_EQ(std::get<TaskMsg>(m).tasks[0].lease_token, "0123456789abcdef");
  tasks.tasks[0].lease_token.clear();  // a broker without a lease secret
  ASSERT_OK_AND_ASSIGN(m, DecodeMessage(EncodeMessage(Message(tasks))));
  EXPECT_TRUE(std::get<TaskMsg>(m).tasks[0].lease_token.empty());

  AckMsg ack;
  ack.keys = {MakeTask(1).key, MakeTask(2).key};
  ack.receipts = {AckReceipt{}, AckReceipt{4, "receipt-of-key-2"}};
  ASSERT_OK_AND_ASSIGN(m, DecodeMessage(EncodeMessage(Message(ack))));
  const AckMsg& got = std::get<AckMsg>(m);
  ASSERT_EQ(got.receipts.size(), 2u);
  EXPECT_TRUE(got.receipts[0].mac.empty());
  EXPECT_EQ(got.receipts[1].attempt, 4u);
  EXPECT_EQ(got.receipts[1].mac, "receipt-of-key-2");
  ack.receipts.clear();  // a sink without a lease secret: no receipts at all
  ASSERT_OK_AND_ASSIGN(m, DecodeMessage(EncodeMessage(Message(ack))));
  EXPECT_TRUE(std::get<AckMsg>(m).receipts.empty());

  HelloMsg hello{"h:1:a", "h", 1, 2, {"exec", "noop"}, {"/usr/bin/python3"}};
  ASSERT_OK_AND_ASSIGN(m, DecodeMessage(EncodeMessage(Message(hello))));
  EXPECT_EQ(std::get<HelloMsg>(m).exec_commands, hello.exec_commands);
  EXPECT_TRUE(std::get<HelloMsg>(m).python_modules.empty());
  hello.python_modules = {"qa", "mylab.*"};
  ASSERT_OK_AND_ASSIGN(m, DecodeMessage(EncodeMessage(Message(hello))));
  EXPECT_EQ(std::get<HelloMsg>(m).python_modules, hello.python_modules);
  EXPECT_EQ(std::get<HelloMsg>(m).exec_commands, hello.exec_commands);
}

TEST(Codec, EveryMessageRoundTrips) {
  for (const auto& [name, message] : RoundTripCases()) {
    SCOPED_TRACE(name);
    const std::string frame = EncodeMessage(message);
    ASSERT_OK_AND_ASSIGN(Message decoded, DecodeMessage(frame));
    EXPECT_EQ(TypeOf(decoded), TypeOf(message));
    // Encoding covers every field, so equal re-encodings mean equal messages.
    EXPECT_EQ(EncodeMessage(decoded), frame);
  }
}

TEST(Codec, RoundTripPreservesFieldKindsAndExtremes) {
  const auto cases = RoundTripCases();
  const Message& original = cases[6].second;
  ASSERT_OK_AND_ASSIGN(Message decoded, DecodeMessage(EncodeMessage(original)));
  const TaskMsg& m = std::get<TaskMsg>(decoded);
  ASSERT_EQ(m.tasks.size(), 64u);
  const TaskSpec& t0 = m.tasks[0];
  EXPECT_EQ(t0.key, MakeTask(0).key);
  EXPECT_EQ(t0.attempt, 1u);
  EXPECT_EQ(t0.analytic, "quality");
  ASSERT_EQ(t0.params.size(), 3u);
  EXPECT_EQ(t0.params[0].first, "rate");
  EXPECT_EQ(std::get<double>(t0.params[0].second), 30.0);  // an integral double stays a double
  EXPECT_EQ(std::get<int64_t>(t0.params[1].second), 2);
  EXPECT_EQ(std::get<std::string>(t0.params[2].second), "x");
  EXPECT_TRUE(m.tasks[3].params.empty());
  EXPECT_EQ(m.tasks[4].key.start, -1234567890123LL);
  const Fields& p = m.tasks[5].params;
  EXPECT_EQ(std::get<int64_t>(p[0].second), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(std::get<int64_t>(p[1].second), std::numeric_limits<int64_t>::max());
  EXPECT_TRUE(std::signbit(std::get<double>(p[2].second)));
  EXPECT_EQ(std::get<double>(p[3].second), std::numeric_limits<double>::infinity());
  EXPECT_EQ(std::get<double>(p[4].second), 5e-324);
  EXPECT_EQ(std::get<double>(p[5].second), 2.0);
  EXPECT_EQ(m.tasks[6].version, std::numeric_limits<uint64_t>::max());
}

TEST(Codec, EncodeReusesTheBuffer) {
  std::string buf = "stale contents";
  EncodeMessage(CreditMsg{5}, &buf);
  EXPECT_EQ(buf, EncodeMessage(CreditMsg{5}));
}

TEST(Codec, EncodeResultsWritesTheResultFrameOfItsPointeesWithTheWorkersId) {
  for (const auto& [name, message] : RoundTripCases()) {
    const auto* results = std::get_if<ResultMsg>(&message);
    if (results == nullptr) continue;
    std::vector<const TaskResult*> pointers;
    ResultMsg stamped = *results;
    for (size_t i = 0; i < results->results.size(); ++i) {
      pointers.push_back(&results->results[i]);
      stamped.results[i].worker_id = "host-1:4242:c0ffee";
    }
    std::string buf = "stale contents";
    EncodeResults(pointers, "host-1:4242:c0ffee", &buf);
    EXPECT_EQ(buf, EncodeMessage(stamped)) << name;
    EncodeResults({}, "w", &buf);
    EXPECT_EQ(buf, EncodeMessage(ResultMsg{}));
  }
}

TEST(Codec, FrameLayoutIsVersionTypeBody) {
  // [1, 2, {"n": 5}]
  EXPECT_EQ(EncodeMessage(CreditMsg{5}), std::string("\x93\x02\x02\x81\xa1n\x05", 7));
}

TEST(Codec, AcceptsFloat32AndSignedIntFormats) {
  const std::string frame = Envelope(static_cast<uint32_t>(MessageType::kTask), [](Packer& pk) {
    pk.pack_map(1);
    Str(pk, "t");
    pk.pack_array(1);
    pk.pack_map(9);
    Str(pk, "j"), pk.pack_fix_int64(3);  // a signed format holding a positive value
    Str(pk, "s"), pk.pack_bin(16), pk.pack_bin_body("0123456789abcdef", 16);
    Str(pk, "b"), pk.pack_fix_int32(-5);
    Str(pk, "n"), pk.pack_fix_uint8(1);
    Str(pk, "e"), pk.pack_fix_uint64(10);
    Str(pk, "v"), pk.pack_fix_int16(0);
    Str(pk, "an"), Str(pk, "noop");
    Str(pk, "se"), pk.pack_int64(-7);
    Str(pk, "sl"), pk.pack_float(1.5f);  // wrong: a float for an int field
  });
  Result<Message> bad = DecodeMessage(frame);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(DecodeReasonOf(bad.status()), DecodeErrorReason::kBadField);
  EXPECT_NE(bad.status().message().find("key 'sl'"), std::string::npos) << bad.status().ToString();

  const std::string result = Envelope(static_cast<uint32_t>(MessageType::kCredit), [](Packer& pk) {
    pk.pack_map(1);
    Str(pk, "n"), pk.pack_fix_int64(9);
  });
  ASSERT_OK_AND_ASSIGN(Message m, DecodeMessage(result));
  EXPECT_EQ(std::get<CreditMsg>(m).credit, 9u);

  const std::string f32 = ResultFrameWithFields(
      [](Packer& pk) { pk.pack_map(1), Str(pk, "half"), pk.pack_float(0.5f); });
  ASSERT_OK_AND_ASSIGN(Message r, DecodeMessage(f32));
  EXPECT_EQ(std::get<double>(std::get<ResultMsg>(r).results[0].fields[0].second), 0.5);
}

TEST(Codec, UnknownBodyKeysAreIgnored) {
  const std::string frame = Envelope(static_cast<uint32_t>(MessageType::kCredit), [](Packer& pk) {
    pk.pack_map(3);
    Str(pk, "future"), pk.pack_array(2), pk.pack_nil(), pk.pack_map(1), Str(pk, "x"),
        pk.pack_true();
    Str(pk, "n"), pk.pack_uint32(4);
    Str(pk, "z"), pk.pack_double(0.25);
  });
  ASSERT_OK_AND_ASSIGN(Message m, DecodeMessage(frame));
  EXPECT_EQ(std::get<CreditMsg>(m).credit, 4u);

  const std::string bye = OneKeyBody(MessageType::kBye, "later", [](Packer& pk) { Str(pk, "v2"); });
  ASSERT_OK_AND_ASSIGN(Message b, DecodeMessage(bye));
  EXPECT_TRUE(std::holds_alternative<ByeMsg>(b));
}

TEST(Codec, ExtValuesNeedMaxExt) {
  const std::string frame = Envelope(static_cast<uint32_t>(MessageType::kDrain), [](Packer& pk) {
    pk.pack_map(1);
    Str(pk, "x");
    pk.pack_ext(4, 1);
    pk.pack_ext_body("abcd", 4);
  });
  Result<Message> rejected = DecodeMessage(frame);
  ASSERT_FALSE(rejected.ok());
  EXPECT_EQ(DecodeReasonOf(rejected.status()), DecodeErrorReason::kLimits);
  CodecLimits permissive;
  permissive.max_ext = 16;
  EXPECT_OK(DecodeMessage(frame, permissive));
}

}  // namespace
}  // namespace btrq
