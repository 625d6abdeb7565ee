#include "common/codec.h"

#include <gtest/gtest.h>
#include <malloc.h>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <limits>
#include <new>
#include <random>

// Tests build hostile but well-formed frames with msgpack's own packer; production code
// includes msgpack only in common/codec.cc.
#include <msgpack.hpp>

#include "tests/support/status_matchers.h"

// Allocation accounting for the memory-bound tests: while a thread has tracking on, its
// allocations and frees are summed and the peak is kept. Replaces the global operator
// new/delete of this test binary; they forward to malloc/free.
namespace {
thread_local bool t_tracking = false;
thread_local int64_t t_live = 0;
thread_local int64_t t_peak = 0;
}  // namespace

// Every non-aligned form is replaced, so each new/delete pair goes through malloc/free
// (sanitizers check that pairing). Aligned forms keep the library's own pair.
namespace {
void* CountedMalloc(size_t n) noexcept {
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p != nullptr && t_tracking) {
    t_live += static_cast<int64_t>(malloc_usable_size(p));
    if (t_live > t_peak) t_peak = t_live;
  }
  return p;
}
}  // namespace

void* operator new(size_t n) {
  void* p = CountedMalloc(n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void* operator new[](size_t n) { return operator new(n); }
void* operator new(size_t n, const std::nothrow_t&) noexcept { return CountedMalloc(n); }
void* operator new[](size_t n, const std::nothrow_t&) noexcept { return CountedMalloc(n); }
void operator delete(void* p) noexcept {
  if (p != nullptr && t_tracking) t_live -= static_cast<int64_t>(malloc_usable_size(p));
  std::free(p);
}
void operator delete[](void* p) noexcept { operator delete(p); }
void operator delete(void* p, size_t) noexcept { operator delete(p); }
void operator delete[](void* p, size_t) noexcept { operator delete(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { operator delete(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { operator delete(p); }

namespace btrq {
namespace {

using ::btrq::testing::StatusIs;
using Packer = msgpack::packer<msgpack::sbuffer>;

// The peak bytes allocated on this thread while `fn` runs.
int64_t PeakAllocatedDuring(const std::function<void()>& fn) {
  t_live = 0;
  t_peak = 0;
  t_tracking = true;
  fn();
  t_tracking = false;
  return t_peak;
}

std::string Pack(const std::function<void(Packer&)>& fill) {
  msgpack::sbuffer buf;
  Packer pk(buf);
  fill(pk);
  return std::string(buf.data(), buf.size());
}

void Str(Packer& pk, std::string_view s) {
  pk.pack_str(static_cast<uint32_t>(s.size()));
  pk.pack_str_body(s.data(), static_cast<uint32_t>(s.size()));
}

// [1, type, <body written by fill>]
std::string Envelope(uint32_t type, const std::function<void(Packer&)>& body) {
  return Pack([&](Packer& pk) {
    pk.pack_array(3);
    pk.pack_uint32(kProtocolVersion);
    pk.pack_uint32(type);
    body(pk);
  });
}

// A body map with one key whose value is written by `value`.
std::string OneKeyBody(MessageType type, std::string_view key,
                       const std::function<void(Packer&)>& value) {
  return Envelope(static_cast<uint32_t>(type), [&](Packer& pk) {
    pk.pack_map(1);
    Str(pk, key);
    value(pk);
  });
}

Uuid TestUuid(uint8_t seed) {
  Uuid u;
  for (size_t i = 0; i < 16; ++i) u.bytes[i] = static_cast<uint8_t>(seed * 31 + i);
  return u;
}

TaskSpec MakeTask(int i) {
  TaskSpec t;
  t.key = {static_cast<JobId>(7 + i), TestUuid(static_cast<uint8_t>(i)),
           1700000000000000000LL + i * 43200000000000LL};
  t.attempt = static_cast<uint32_t>(1 + i % 3);
  t.end = t.key.start + 43200000000000LL;
  t.version = 1000 + static_cast<uint64_t>(i);
  t.analytic = "quality";
  t.params = {{"rate", 30.0}, {"gap_factor", int64_t{2}}, {"note", std::string("x")}};
  t.stream_earliest = t.key.start - 5;
  t.stream_latest = t.end + 5;
  return t;
}

// Every message type with non-trivial contents: batches, every FieldValue kind, negative
// times, extreme values.
std::vector<std::pair<std::string, Message>> RoundTripCases() {
  std::vector<std::pair<std::string, Message>> cases;
  cases.emplace_back("hello", HelloMsg{"host-a:42:abcdef", "host-a", 42, 8,
                                       {"quality", "stats", "noop"}});
  cases.emplace_back("hello_empty", HelloMsg{});
  cases.emplace_back("credit_max", CreditMsg{std::numeric_limits<uint32_t>::max()});
  HeartbeatMsg hb;
  for (int i = 0; i < 5; ++i) hb.running.push_back({MakeTask(i).key, static_cast<uint32_t>(i)});
  hb.running.push_back({{std::numeric_limits<JobId>::max(), Uuid::Random(),
                         std::numeric_limits<int64_t>::min()},
                        std::numeric_limits<uint32_t>::max()});
  cases.emplace_back("heartbeat", hb);
  DoneMsg done;
  done.items.push_back({{MakeTask(1).key, 1}, ErrorClass::kNone, ""});
  done.items.push_back({{MakeTask(2).key, 2}, ErrorClass::kTransient, "btrdb unavailable"});
  done.items.push_back({{MakeTask(3).key, 3}, ErrorClass::kPermanent, std::string(1000, 'e')});
  cases.emplace_back("done", done);
  cases.emplace_back("bye", ByeMsg{});
  TaskMsg tasks;
  for (int i = 0; i < 64; ++i) tasks.tasks.push_back(MakeTask(i));
  tasks.tasks[3].params.clear();
  tasks.tasks[4].key.start = -1234567890123LL;  // before the epoch
  tasks.tasks[4].end = -1;
  tasks.tasks[5].params = {{"min", std::numeric_limits<int64_t>::min()},
                           {"max", std::numeric_limits<int64_t>::max()},
                           {"neg", -0.0},
                           {"inf", std::numeric_limits<double>::infinity()},
                           {"tiny", 5e-324},
                           {"two", 2.0},
                           {"utf8", std::string("\xc3\xa9t\xc3\xa9")},
                           {"empty", std::string()}};
  tasks.tasks[6].version = std::numeric_limits<uint64_t>::max();
  cases.emplace_back("task_batch", tasks);
  cases.emplace_back("task_empty_batch", TaskMsg{});
  cases.emplace_back("cancel", CancelMsg{std::numeric_limits<JobId>::max()});
  cases.emplace_back("broker_heartbeat", BrokerHeartbeatMsg{});
  cases.emplace_back("drain", DrainMsg{});
  cases.emplace_back("reject", RejectMsg{"bad version: expected 1, got 2"});
  RefuseMsg refuse;
  refuse.items.push_back({{MakeTask(1).key, 2}, "limits: params 'x': str of 1153433 bytes"});
  refuse.items.push_back({{MakeTask(2).key, 1}, ""});
  cases.emplace_back("refuse", refuse);
  ResultMsg results;
  for (int i = 0; i < 16; ++i) {
    TaskResult r;
    r.task = {MakeTask(i).key, 1};
    r.end = MakeTask(i).end;
    r.version = 99;
    r.worker_id = "w1:7:0011aa";
    r.fields = {{"count", int64_t{43200}}, {"score", 0.9875}, {"status", std::string("ok")}};
    r.duration_ns = 1234567;
    r.points_read = 43200;
    results.results.push_back(std::move(r));
  }
  results.results[0].fields.clear();
  results.results[1].duration_ns = -1;
  cases.emplace_back("result_batch", results);
  AckMsg ack;
  for (int i = 0; i < 16; ++i) ack.keys.push_back(MakeTask(i).key);
  cases.emplace_back("ack_batch", ack);
  // Lease tokens, receipts and the exec allow-list (issue #14), all optional keys.
  cases.emplace_back("hello_exec", HelloMsg{"h:1:a", "h", 1, 2, {"exec"}, {"/usr/bin/*"}});
  tasks.tasks[0].lease_token = std::string(16, '\x01');
  cases.emplace_back("task_token", tasks);
  results.results[2].lease_token = std::string(16, '\xfe');
  cases.emplace_back("result_token", results);
  done.items[0].receipt = std::string(16, '\x7f');
  cases.emplace_back("done_receipt", done);
  ack.receipts.assign(ack.keys.size(), AckReceipt{});
  ack.receipts[1] = AckReceipt{3, std::string(16, '\x02')};
  cases.emplace_back("ack_receipts", ack);
  return cases;
}

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

  const std::string f32 = OneKeyBody(MessageType::kResult, "r", [](Packer& pk) {
    pk.pack_array(1);
    pk.pack_map(10);
    Str(pk, "j"), pk.pack_uint64(1);
    Str(pk, "s"), pk.pack_bin(16), pk.pack_bin_body("0123456789abcdef", 16);
    Str(pk, "b"), pk.pack_int64(0);
    Str(pk, "n"), pk.pack_uint32(1);
    Str(pk, "e"), pk.pack_int64(10);
    Str(pk, "v"), pk.pack_uint64(0);
    Str(pk, "w"), Str(pk, "w1");
    Str(pk, "f"), pk.pack_map(1), Str(pk, "half"), pk.pack_float(0.5f);
    Str(pk, "d"), pk.pack_int64(1);
    Str(pk, "pr"), pk.pack_int64(2);
  });
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

struct BadFrame {
  std::string name;
  std::string frame;
  DecodeErrorReason reason;
  std::string says;  // a substring of the Status message
  CodecLimits limits = CodecLimits();
};

std::string Repeat(char c, size_t n) { return std::string(n, c); }

std::vector<BadFrame> BadFrames() {
  const auto credit = static_cast<uint32_t>(MessageType::kCredit);
  CodecLimits open;  // as permissive as the types allow: only the bytes bound things
  open.max_frame_bytes = std::numeric_limits<size_t>::max();
  open.max_depth = 64;
  open.max_str = open.max_bin = open.max_array = open.max_map = open.max_ext =
      std::numeric_limits<uint32_t>::max();
  CodecLimits tiny;
  tiny.max_frame_bytes = 4;

  std::vector<BadFrame> v;
  v.push_back({"empty", "", DecodeErrorReason::kMalformed, "truncated"});
  v.push_back({"not_an_array", "\x05", DecodeErrorReason::kMalformed, "not a msgpack array"});
  v.push_back({"array32_4g", "\xdd\xff\xff\xff\xff", DecodeErrorReason::kLimits, "exceeds"});
  v.push_back({"array32_4g_open_limits", "\xdd\xff\xff\xff\xff", DecodeErrorReason::kMalformed,
               "only 0 bytes remain", open});
  v.push_back({"map32_4g", std::string("\x93\x02\x02\xdf\xff\xff\xff\xff", 8),
               DecodeErrorReason::kLimits, "map of 4294967295"});
  v.push_back({"map32_4g_open_limits", std::string("\x93\x02\x02\xdf\xff\xff\xff\xff", 8),
               DecodeErrorReason::kMalformed, "announces", open});
  v.push_back({"str32_4g", "\xdb\xff\xff\xff\xff", DecodeErrorReason::kMalformed,
               "not a msgpack array"});
  v.push_back({"str32_4g_in_body",
               OneKeyBody(MessageType::kReject, "r",
                          [](Packer& pk) { pk.pack_str(0xffffffffu); }),
               DecodeErrorReason::kLimits, "str of 4294967295 bytes exceeds"});
  v.push_back({"str32_4g_in_body_open_limits",
               OneKeyBody(MessageType::kReject, "r",
                          [](Packer& pk) { pk.pack_str(0xffffffffu); }),
               DecodeErrorReason::kMalformed, "only 0 remain", open});
  v.push_back({"bin32_4g_in_body_open_limits",
               OneKeyBody(MessageType::kReject, "x",
                          [](Packer& pk) { pk.pack_bin(0xffffffffu); }),
               DecodeErrorReason::kMalformed, "bin of 4294967295 bytes", open});
  v.push_back({"array_count_beyond_bytes",
               OneKeyBody(MessageType::kTask, "t", [](Packer& pk) { pk.pack_array(1000); }),
               DecodeErrorReason::kMalformed, "announces 1000 entries"});
  v.push_back({"nested_arrays_1mb", Repeat('\x91', 1 << 20), DecodeErrorReason::kMalformed,
               "got an array of 1"});
  v.push_back({"too_large", EncodeMessage(CreditMsg{1}), DecodeErrorReason::kTooLarge,
               "exceeds max_frame_bytes 4", tiny});
  v.push_back({"bad_version",
               Pack([](Packer& pk) {
                 pk.pack_array(3), pk.pack_uint32(3), pk.pack_uint32(2), pk.pack_map(0);
               }),
               DecodeErrorReason::kBadVersion, "expected 2, got 3"});
  v.push_back({"unknown_type",
               Pack([](Packer& pk) {
                 pk.pack_array(3), pk.pack_uint32(kProtocolVersion), pk.pack_uint32(99),
                     pk.pack_map(0);
               }),
               DecodeErrorReason::kUnknownType, "unknown message type 99"});
  v.push_back({"type_beyond_uint32",
               Pack([](Packer& pk) {
                 pk.pack_array(3), pk.pack_uint32(kProtocolVersion),
                     pk.pack_uint64((1ULL << 32) + 2), pk.pack_map(0);
               }),
               DecodeErrorReason::kUnknownType, "unknown message type"});
  v.push_back({"four_elements",
               Pack([](Packer& pk) {
                 pk.pack_array(4), pk.pack_uint32(kProtocolVersion), pk.pack_uint32(5),
                     pk.pack_map(0), pk.pack_nil();
               }),
               DecodeErrorReason::kMalformed, "got an array of 4"});
  v.push_back({"trailing_garbage", EncodeMessage(CreditMsg{1}) + "xyz",
               DecodeErrorReason::kMalformed, "3 trailing bytes"});
  v.push_back({"body_not_a_map",
               Envelope(static_cast<uint32_t>(MessageType::kBye),
                        [](Packer& pk) { pk.pack_array(0); }),
               DecodeErrorReason::kBadField, "expected map, got array"});
  v.push_back({"reserved_byte_c1", std::string("\x93\x02\x02\x81\xa1n\xc1", 7),
               DecodeErrorReason::kMalformed, "0xc1"});
  v.push_back({"wrong_type_str_for_uint",
               OneKeyBody(MessageType::kCredit, "n", [](Packer& pk) { Str(pk, "five"); }),
               DecodeErrorReason::kBadField, "key 'n': expected int, got str"});
  v.push_back({"negative_for_unsigned",
               OneKeyBody(MessageType::kCancel, "j", [](Packer& pk) { pk.pack_int64(-1); }),
               DecodeErrorReason::kBadField, "negative value -1"});
  v.push_back({"uint32_overflow",
               OneKeyBody(MessageType::kCredit, "n",
                          [](Packer& pk) { pk.pack_uint64(1ULL << 32); }),
               DecodeErrorReason::kBadField, "does not fit uint32"});
  v.push_back({"missing_required_key",
               Envelope(credit, [](Packer& pk) { pk.pack_map(0); }),
               DecodeErrorReason::kBadField, "CREDIT: missing key 'n'"});
  v.push_back({"duplicate_key",
               Envelope(credit,
                        [](Packer& pk) {
                          pk.pack_map(2), Str(pk, "n"), pk.pack_uint32(1), Str(pk, "n"),
                              pk.pack_uint32(2);
                        }),
               DecodeErrorReason::kBadField, "duplicate key 'n'"});
  v.push_back({"non_string_key",
               Envelope(credit, [](Packer& pk) { pk.pack_map(1), pk.pack_uint32(1), pk.pack_uint32(2); }),
               DecodeErrorReason::kBadField, "map key: expected str, got uint"});
  const auto ack_key = [](std::string_view stream) {
    return OneKeyBody(MessageType::kAck, "k", [stream](Packer& pk) {
      pk.pack_array(1);
      pk.pack_map(3);
      Str(pk, "j"), pk.pack_uint64(1);
      Str(pk, "s"), pk.pack_bin(static_cast<uint32_t>(stream.size())),
          pk.pack_bin_body(stream.data(), static_cast<uint32_t>(stream.size()));
      Str(pk, "b"), pk.pack_int64(0);
    });
  };
  v.push_back({"uuid_15_bytes", ack_key("0123456789abcde"), DecodeErrorReason::kBadField,
               "keys[0]: taskkey: key 's': stream uuid must be 16 bytes, got 15"});
  v.push_back({"uuid_17_bytes", ack_key("0123456789abcdefg"), DecodeErrorReason::kBadField,
               "got 17"});
  v.push_back({"uuid_as_str",
               OneKeyBody(MessageType::kAck, "k",
                          [](Packer& pk) {
                            pk.pack_array(1), pk.pack_map(3);
                            Str(pk, "j"), pk.pack_uint64(1);
                            Str(pk, "s"), Str(pk, "0123456789abcdef");
                            Str(pk, "b"), pk.pack_int64(0);
                          }),
               DecodeErrorReason::kBadField, "key 's': expected bin, got str"});
  v.push_back({"int64_overflow",
               OneKeyBody(MessageType::kAck, "k",
                          [](Packer& pk) {
                            pk.pack_array(1), pk.pack_map(3);
                            Str(pk, "j"), pk.pack_uint64(1);
                            Str(pk, "s"), pk.pack_bin(16), pk.pack_bin_body("0123456789abcdef", 16);
                            Str(pk, "b"), pk.pack_uint64(1ULL << 63);
                          }),
               DecodeErrorReason::kBadField, "does not fit int64"});
  const auto done_item = [](uint32_t error_class) {
    return OneKeyBody(MessageType::kDone, "i", [error_class](Packer& pk) {
      pk.pack_array(1), pk.pack_map(5);
      Str(pk, "j"), pk.pack_uint64(1);
      Str(pk, "s"), pk.pack_bin(16), pk.pack_bin_body("0123456789abcdef", 16);
      Str(pk, "b"), pk.pack_int64(0);
      Str(pk, "n"), pk.pack_uint32(1);
      Str(pk, "c"), pk.pack_uint32(error_class);
    });
  };
  v.push_back({"unknown_error_class", done_item(7), DecodeErrorReason::kBadField,
               "unknown error class 7"});
  const auto result_fields = [](const std::function<void(Packer&)>& fields) {
    return OneKeyBody(MessageType::kResult, "r", [fields](Packer& pk) {
      pk.pack_array(1), pk.pack_map(10);
      Str(pk, "j"), pk.pack_uint64(1);
      Str(pk, "s"), pk.pack_bin(16), pk.pack_bin_body("0123456789abcdef", 16);
      Str(pk, "b"), pk.pack_int64(0);
      Str(pk, "n"), pk.pack_uint32(1);
      Str(pk, "e"), pk.pack_int64(10);
      Str(pk, "v"), pk.pack_uint64(0);
      Str(pk, "w"), Str(pk, "w1");
      Str(pk, "f"), fields(pk);
      Str(pk, "d"), pk.pack_int64(1);
      Str(pk, "pr"), pk.pack_int64(2);
    });
  };
  v.push_back({"field_value_nil",
               result_fields([](Packer& pk) { pk.pack_map(1), Str(pk, "a"), pk.pack_nil(); }),
               DecodeErrorReason::kBadField, "fields 'a': value (int, float or str): expected str, got nil"});
  v.push_back({"field_duplicate_name",
               result_fields([](Packer& pk) {
                 pk.pack_map(2), Str(pk, "a"), pk.pack_int64(1), Str(pk, "a"), pk.pack_int64(2);
               }),
               DecodeErrorReason::kBadField, "duplicate name 'a'"});
  v.push_back({"field_duplicate_name_large_map",
               result_fields([](Packer& pk) {
                 pk.pack_map(40);
                 for (int i = 0; i < 39; ++i) Str(pk, "k" + std::to_string(i)), pk.pack_int64(i);
                 Str(pk, "k17"), pk.pack_int64(0);
               }),
               DecodeErrorReason::kBadField, "duplicate name 'k17'"});
  v.push_back({"fields_not_a_map",
               result_fields([](Packer& pk) { pk.pack_array(0); }),
               DecodeErrorReason::kBadField, "fields: expected map, got array"});
  return v;
}

std::string NestedInUnknownKey(size_t depth) {
  std::string frame = OneKeyBody(MessageType::kDrain, "x", [](Packer& pk) { pk.pack_nil(); });
  frame.pop_back();  // drop the nil; put `depth` one-element arrays and a nil instead
  frame += Repeat('\x91', depth);
  frame += '\xc0';
  return frame;
}

void ExpectRejected(const BadFrame& c) {
  SCOPED_TRACE(c.name);
  Result<Message> r = DecodeMessage(c.frame, c.limits);
  ASSERT_THAT(r.status(), StatusIs(StatusCode::kInvalidMessage));
  EXPECT_EQ(DecodeReasonOf(r.status()), c.reason)
      << DecodeErrorReasonName(DecodeReasonOf(r.status())) << " " << r.status().ToString();
  EXPECT_EQ(r.status().message().rfind(std::string(DecodeErrorReasonName(c.reason)) + ": ", 0), 0u)
      << r.status().message();
  EXPECT_NE(r.status().message().find(c.says), std::string::npos)
      << "expected '" << c.says << "' in: " << r.status().message();
}

std::vector<BadFrame> AllBadFrames() {
  std::vector<BadFrame> all;
  for (auto& c : BadFrames()) all.push_back(std::move(c));
  all.push_back({"nested_arrays_1mb_in_unknown_key", NestedInUnknownKey(1 << 20),
                 DecodeErrorReason::kLimits, "nesting deeper than max_depth 8"});
  return all;
}

TEST(Codec, RejectsHostileFramesWithAReason) {
  for (const auto& c : AllBadFrames()) ExpectRejected(c);
}

TEST(Codec, DepthLimitCountsFromTheFrame) {
  // frame(1) > body(2) > "x" value arrays(3..) : 6 nested arrays reach depth 8.
  EXPECT_OK(DecodeMessage(NestedInUnknownKey(6)));
  Result<Message> deeper = DecodeMessage(NestedInUnknownKey(7));
  ASSERT_FALSE(deeper.ok());
  EXPECT_EQ(DecodeReasonOf(deeper.status()), DecodeErrorReason::kLimits);
}

TEST(Codec, HostileFramesAllocateLittle) {
  for (const auto& c : AllBadFrames()) {
    SCOPED_TRACE(c.name);
    const int64_t peak = PeakAllocatedDuring([&c] { (void)DecodeMessage(c.frame, c.limits); });
    // Rejection costs the error message, not what the frame announces.
    EXPECT_LT(peak, 64 * 1024);
  }
}

TEST(Codec, ValidFrameCostsAboutItsDecodedSize) {
  TaskMsg tasks;
  for (int i = 0; i < 64; ++i) tasks.tasks.push_back(MakeTask(i));
  const std::string frame = EncodeMessage(tasks);
  const int64_t peak = PeakAllocatedDuring([&frame] { (void)DecodeMessage(frame); });
  EXPECT_GT(peak, 0);
  EXPECT_LT(peak, static_cast<int64_t>(64 * sizeof(TaskSpec) + 16 * frame.size() + 64 * 1024));
}

TEST(Codec, MallinfoStaysFlatAcrossFourGigabyteAnnouncements) {
  const std::vector<std::string> frames = {
      "\xdd\xff\xff\xff\xff", std::string("\x93\x02\x02\xdf\xff\xff\xff\xff", 8),
      OneKeyBody(MessageType::kReject, "r", [](Packer& pk) { pk.pack_str(0xffffffffu); }),
      OneKeyBody(MessageType::kReject, "x", [](Packer& pk) { pk.pack_bin(0xffffffffu); })};
  CodecLimits open;
  open.max_str = open.max_bin = open.max_array = open.max_map = 0xffffffffu;
  for (const std::string& f : frames) {
    const size_t before = mallinfo2().uordblks;
    Result<Message> r = DecodeMessage(f, open);
    const size_t after = mallinfo2().uordblks;
    EXPECT_FALSE(r.ok());
    EXPECT_LT(after > before ? after - before : 0, f.size() + 64 * 1024);
  }
}

TEST(Codec, EveryTruncationIsRejected) {
  TaskMsg tasks;
  for (int i = 0; i < 3; ++i) tasks.tasks.push_back(MakeTask(i));
  for (const std::string& frame :
       {EncodeMessage(tasks), EncodeMessage(RoundTripCases()[4].second),
        EncodeMessage(RoundTripCases()[0].second)}) {
    for (size_t n = 0; n < frame.size(); ++n) {
      Result<Message> r = DecodeMessage(std::string_view(frame).substr(0, n));
      ASSERT_FALSE(r.ok()) << "prefix of " << n << " bytes decoded";
      EXPECT_EQ(DecodeReasonOf(r.status()), DecodeErrorReason::kMalformed)
          << n << ": " << r.status().ToString();
    }
  }
}

TEST(Codec, RandomBytesNeverCrash) {
  std::mt19937_64 rng(20240601);
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string frame(rng() % 48, '\0');
    for (char& c : frame) c = static_cast<char>(rng());
    if (i % 2 == 0 && !frame.empty()) frame[0] = '\x93';  // get past the first check often
    Result<Message> r = DecodeMessage(frame);
    if (r.ok()) {
      ++accepted;
      continue;
    }
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidMessage);
    EXPECT_NE(DecodeReasonOf(r.status()), DecodeErrorReason::kNone);
  }
  EXPECT_LT(accepted, 20000);
}

TEST(Codec, MutatedFramesNeverCrashAndReencodeStably) {
  std::mt19937_64 rng(7);
  std::vector<std::string> seeds;
  for (const auto& [name, message] : RoundTripCases()) seeds.push_back(EncodeMessage(message));
  for (int i = 0; i < 20000; ++i) {
    std::string frame = seeds[rng() % seeds.size()];
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) frame[rng() % frame.size()] = static_cast<char>(rng());
    Result<Message> r = DecodeMessage(frame);
    if (!r.ok()) {
      EXPECT_NE(DecodeReasonOf(r.status()), DecodeErrorReason::kNone);
      continue;
    }
    const std::string again = EncodeMessage(*r);
    ASSERT_OK_AND_ASSIGN(Message twice, DecodeMessage(again));
    EXPECT_EQ(EncodeMessage(twice), again);
  }
}

TEST(Codec, ReasonNamesAreStable) {
  EXPECT_EQ(DecodeErrorReasonName(DecodeErrorReason::kTooLarge), "too_large");
  EXPECT_EQ(DecodeErrorReasonName(DecodeErrorReason::kBadVersion), "bad_version");
  EXPECT_EQ(DecodeErrorReasonName(DecodeErrorReason::kUnknownType), "unknown_type");
  EXPECT_EQ(DecodeErrorReasonName(DecodeErrorReason::kMalformed), "malformed");
  EXPECT_EQ(DecodeErrorReasonName(DecodeErrorReason::kLimits), "limits");
  EXPECT_EQ(DecodeErrorReasonName(DecodeErrorReason::kBadField), "bad_field");
  EXPECT_EQ(DecodeReasonOf(Status::InvalidArgument("x")), DecodeErrorReason::kNone);
  EXPECT_EQ(DecodeReasonOf(Status::OK()), DecodeErrorReason::kNone);
}

}  // namespace
}  // namespace btrq
