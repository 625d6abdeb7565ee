// A job's nonce (its incarnation, common/ids.h) in a task key: on the wire as the
// optional key "jn" of every taskkey (left out when 0, so a legacy key's frame is the
// bytes peers that predate nonces send, and a frame without it decodes as 0), in the
// key's text form, its comparison and hash, and in the bytes a lease token and a sink
// receipt sign.

#include <functional>
#include <string>
#include <variant>

#include <gtest/gtest.h>
#include <msgpack.hpp>

#include "common/codec.h"
#include "common/ids.h"
#include "common/lease_token.h"
#include "tests/support/status_matchers.h"

namespace btrq {
namespace {

constexpr JobNonce kNonce = 0x9f3a1c2b4d5e6f70;

TaskKey Key(JobNonce nonce) {
  TaskKey k;
  k.job = 12;
  k.stream = Uuid::Parse("0f3c2e1a-0000-4000-8000-000000000001").value();
  k.start = 1'704'067'200'000'000'000;
  k.nonce = nonce;
  return k;
}

TaskRef Ref(JobNonce nonce, uint32_t attempt = 2) { return TaskRef{Key(nonce), attempt}; }

// One message of each kind that carries task keys, all with `nonce`.
std::vector<Message> EveryKeyedMessage(JobNonce nonce) {
  TaskSpec task;
  task.key = Key(nonce);
  task.attempt = 1;
  task.end = task.key.start + 10;
  task.analytic = "count";
  task.lease_token = std::string(kLeaseTokenBytes, 'x');
  TaskResult result;
  result.task = Ref(nonce);
  result.worker_id = "w1";
  result.fields = {{"count", int64_t{5}}};
  DoneItem done;
  done.task = Ref(nonce);
  done.receipt = "r";
  RefuseItem refuse;
  refuse.task = Ref(nonce);
  refuse.reason = "limits";
  HeartbeatMsg hb;
  hb.running = {Ref(nonce)};
  hb.awaiting_ack = {Ref(nonce, 3)};
  AckMsg ack;
  ack.keys = {Key(nonce)};
  ack.receipts = {AckReceipt{2, "mac"}};
  return {TaskMsg{{task}}, ResultMsg{{result}}, DoneMsg{{done}}, RefuseMsg{{refuse}}, hb, ack};
}

// The first task key a decoded message carries.
TaskKey FirstKey(const Message& m) {
  if (const auto* t = std::get_if<TaskMsg>(&m)) return t->tasks.at(0).key;
  if (const auto* r = std::get_if<ResultMsg>(&m)) return r->results.at(0).task.key;
  if (const auto* d = std::get_if<DoneMsg>(&m)) return d->items.at(0).task.key;
  if (const auto* f = std::get_if<RefuseMsg>(&m)) return f->items.at(0).task.key;
  if (const auto* h = std::get_if<HeartbeatMsg>(&m)) return h->awaiting_ack.at(0).key;
  return std::get<AckMsg>(m).keys.at(0);
}

TEST(JobNonceCodec, EveryTaskKeyRoundTripsItsNonce) {
  for (const Message& m : EveryKeyedMessage(kNonce)) {
    const std::string frame = EncodeMessage(m);
    EXPECT_NE(frame.find("\xa2jn"), std::string::npos);
    ASSERT_OK_AND_ASSIGN(Message decoded, DecodeMessage(frame));
    EXPECT_EQ(FirstKey(decoded), Key(kNonce)) << frame.size();
  }
}

TEST(JobNonceCodec, ALegacyKeyHasNoJnAndDecodesAsZero) {
  const std::vector<Message> with = EveryKeyedMessage(kNonce);
  const std::vector<Message> without = EveryKeyedMessage(0);
  for (size_t i = 0; i < with.size(); ++i) {
    const std::string frame = EncodeMessage(without[i]);
    EXPECT_EQ(frame.find("\xa2jn"), std::string::npos);
    // "jn" (3 bytes) and a uint64 (9 bytes) per key, nothing else.
    const size_t keys = std::holds_alternative<HeartbeatMsg>(with[i]) ? 2 : 1;
    EXPECT_EQ(EncodeMessage(with[i]).size(), frame.size() + 12 * keys);
    ASSERT_OK_AND_ASSIGN(Message decoded, DecodeMessage(frame));
    EXPECT_EQ(FirstKey(decoded).nonce, 0u);
  }
}

TEST(JobNonceCodec, AResultFrameWrittenWithoutJnDecodesAsNonceZero) {
  // A RESULT as a peer that predates nonces writes it, byte by byte.
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  const auto str = [&pk](std::string_view s) {
    pk.pack_str(static_cast<uint32_t>(s.size()));
    pk.pack_str_body(s.data(), static_cast<uint32_t>(s.size()));
  };
  pk.pack_array(3);
  pk.pack_uint32(kProtocolVersion);
  pk.pack_uint32(static_cast<uint32_t>(MessageType::kResult));
  pk.pack_map(1);
  str("r");
  pk.pack_array(1);
  pk.pack_map(10);
  str("j"), pk.pack_uint64(12);
  str("s"), pk.pack_bin(16), pk.pack_bin_body(Key(0).stream.AsBytes().data(), 16);
  str("b"), pk.pack_int64(Key(0).start);
  str("n"), pk.pack_uint32(2);
  str("e"), pk.pack_int64(Key(0).start + 10);
  str("v"), pk.pack_uint64(7);
  str("w"), str("w1");
  str("f"), pk.pack_map(0);
  str("d"), pk.pack_int64(1);
  str("pr"), pk.pack_int64(3);
  ASSERT_OK_AND_ASSIGN(Message decoded, DecodeMessage(std::string_view(buf.data(), buf.size())));
  EXPECT_EQ(FirstKey(decoded), Key(0));
}

TEST(JobNonceCodec, ANonceThatIsNotAnUnsignedIntIsABadField) {
  std::string frame = EncodeMessage(DoneMsg{{DoneItem{.task = Ref(kNonce)}}});
  const size_t at = frame.find("\xa2jn");
  ASSERT_NE(at, std::string::npos);
  ASSERT_EQ(static_cast<uint8_t>(frame[at + 3]), 0xcf);  // uint64
  frame[at + 3] = static_cast<char>(0xd3);               // int64: negative
  const auto decoded = DecodeMessage(frame);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(DecodeReasonOf(decoded.status()), DecodeErrorReason::kBadField);
}

TEST(JobNonceCodec, TheTaskSizeBoundCoversTheNonce) {
  TaskSpec task = std::get<TaskMsg>(EveryKeyedMessage(~JobNonce{0})[0]).tasks[0];
  task.key.job = ~JobId{0};
  task.end = task.key.start = INT64_MIN;
  task.version = ~uint64_t{0};
  task.attempt = ~uint32_t{0};
  task.stream_earliest = task.stream_latest = INT64_MIN;
  EXPECT_LE(EncodeMessage(TaskMsg{{task}}).size() - EncodeMessage(TaskMsg{}).size(),
            TaskEncodedBytesBound(task));
}

TEST(JobNonceKey, TakesPartInComparisonHashAndText) {
  EXPECT_NE(Key(kNonce), Key(0));
  EXPECT_NE(Key(kNonce), Key(kNonce + 1));
  EXPECT_NE(TaskKeyHash()(Key(kNonce)), TaskKeyHash()(Key(kNonce + 1)));
  EXPECT_EQ(Key(0).ToString(), "12/0f3c2e1a-0000-4000-8000-000000000001/1704067200000000000");
  EXPECT_EQ(Key(kNonce).ToString(),
            "12.9f3a1c2b4d5e6f70/0f3c2e1a-0000-4000-8000-000000000001/1704067200000000000");
  for (JobNonce n : {JobNonce{0}, kNonce, ~JobNonce{0}, JobNonce{1}}) {
    ASSERT_OK_AND_ASSIGN(TaskKey parsed, TaskKey::Parse(Key(n).ToString()));
    EXPECT_EQ(parsed, Key(n));
  }
  EXPECT_FALSE(TaskKey::Parse("12./0f3c2e1a-0000-4000-8000-000000000001/0").ok());
  EXPECT_FALSE(TaskKey::Parse("12.xyz/0f3c2e1a-0000-4000-8000-000000000001/0").ok());
  EXPECT_FALSE(ParseJobNonce("12345678901234567").ok());  // 17 digits
}

TEST(JobNonceKey, NewNoncesAreNonzeroAndDiffer) {
  const JobNonce a = NewJobNonce();
  const JobNonce b = NewJobNonce();
  EXPECT_NE(a, 0u);
  EXPECT_NE(b, 0u);
  EXPECT_NE(a, b);  // 2^-64 to fail
  EXPECT_EQ(JobNonceText(a).size(), 16u);
  ASSERT_OK_AND_ASSIGN(JobNonce back, ParseJobNonce(JobNonceText(a)));
  EXPECT_EQ(back, a);
}

TEST(JobNonceLease, ATokenOrReceiptOfOneIncarnationNeverVerifiesForAnother) {
  ASSERT_OK_AND_ASSIGN(LeaseSigner signer, LeaseSigner::Create("0123456789abcdef0123"));
  // Job 12 of an earlier incarnation (a journal since lost) and the new job 12.
  const TaskRef old_ref = Ref(kNonce);
  const TaskRef new_ref = Ref(kNonce ^ 1);
  const std::string token = signer.Token(old_ref, "w1");
  const std::string receipt = signer.Receipt(old_ref, "w1");
  EXPECT_TRUE(signer.VerifyToken(old_ref, "w1", token));
  EXPECT_TRUE(signer.VerifyReceipt(old_ref, "w1", receipt));
  EXPECT_FALSE(signer.VerifyToken(new_ref, "w1", token));
  EXPECT_FALSE(signer.VerifyReceipt(new_ref, "w1", receipt));
  EXPECT_FALSE(signer.VerifyToken(Ref(0), "w1", token));
  EXPECT_FALSE(signer.VerifyReceipt(Ref(0), "w1", receipt));
  EXPECT_NE(TaskKeyBytes(old_ref.key), TaskKeyBytes(new_ref.key));
  EXPECT_EQ(TaskKeyBytes(Key(0)).size(), 40u);  // fixed length, nonce 0 included
}

}  // namespace
}  // namespace btrq
