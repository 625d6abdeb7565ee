// The codec against hostile frames: every malformed frame rejected with its reason,
// bounded depth and allocation, truncations, random and mutated bytes.

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

#include "tests/unit/common/codec_test_util.h"

namespace btrq {
namespace {

using ::btrq::testing::StatusIs;

// The peak bytes allocated on this thread while `fn` runs.
int64_t PeakAllocatedDuring(const std::function<void()>& fn) {
  t_live = 0;
  t_peak = 0;
  t_tracking = true;
  fn();
  t_tracking = false;
  return t_peak;
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
  v.push_back({"field_value_nil",
               ResultFrameWithFields([](Packer& pk) { pk.pack_map(1), Str(pk, "a"), pk.pack_nil(); }),
               DecodeErrorReason::kBadField, "fields 'a': value (int, float or str): expected str, got nil"});
  v.push_back({"field_duplicate_name",
               ResultFrameWithFields([](Packer& pk) {
                 pk.pack_map(2), Str(pk, "a"), pk.pack_int64(1), Str(pk, "a"), pk.pack_int64(2);
               }),
               DecodeErrorReason::kBadField, "duplicate name 'a'"});
  v.push_back({"field_duplicate_name_large_map",
               ResultFrameWithFields([](Packer& pk) {
                 pk.pack_map(40);
                 for (int i = 0; i < 39; ++i) Str(pk, "k" + std::to_string(i)), pk.pack_int64(i);
                 Str(pk, "k17"), pk.pack_int64(0);
               }),
               DecodeErrorReason::kBadField, "duplicate name 'k17'"});
  v.push_back({"fields_not_a_map",
               ResultFrameWithFields([](Packer& pk) { pk.pack_array(0); }),
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
