#pragma once

// Frames for the codec's tests, built with msgpack's own packer (production code includes
// msgpack only in common/codec.cc): envelopes, one-key bodies, sample tasks, and a case of
// every message type for round trips.

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <msgpack.hpp>

#include "common/codec.h"

namespace btrq {

using Packer = msgpack::packer<msgpack::sbuffer>;

inline std::string Pack(const std::function<void(Packer&)>& fill) {
  msgpack::sbuffer buf;
  Packer pk(buf);
  fill(pk);
  return std::string(buf.data(), buf.size());
}

inline void Str(Packer& pk, std::string_view s) {
  pk.pack_str(static_cast<uint32_t>(s.size()));
  pk.pack_str_body(s.data(), static_cast<uint32_t>(s.size()));
}

// [1, type, <body written by fill>]
inline std::string Envelope(uint32_t type, const std::function<void(Packer&)>& body) {
  return Pack([&](Packer& pk) {
    pk.pack_array(3);
    pk.pack_uint32(kProtocolVersion);
    pk.pack_uint32(type);
    body(pk);
  });
}

// A body map with one key whose value is written by `value`.
inline std::string OneKeyBody(MessageType type, std::string_view key,
                       const std::function<void(Packer&)>& value) {
  return Envelope(static_cast<uint32_t>(type), [&](Packer& pk) {
    pk.pack_map(1);
    Str(pk, key);
    value(pk);
  });
}

// A RESULT frame of one result whose `f` (fields) value `fields` writes.
inline std::string ResultFrameWithFields(const std::function<void(Packer&)>& fields) {
  return OneKeyBody(MessageType::kResult, "r", [&fields](Packer& pk) {
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
}

inline Uuid TestUuid(uint8_t seed) {
  Uuid u;
  for (size_t i = 0; i < 16; ++i) u.bytes[i] = static_cast<uint8_t>(seed * 31 + i);
  return u;
}

inline TaskSpec MakeTask(int i) {
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
inline std::vector<std::pair<std::string, Message>> RoundTripCases() {
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
  // Appended: tests index the cases above.
  HeartbeatMsg hb_queued;
  hb_queued.running.push_back({MakeTask(1).key, 1});
  hb_queued.awaiting_ack.push_back({MakeTask(2).key, 1});
  hb_queued.queued.push_back({MakeTask(3).key, 2});
  cases.emplace_back("heartbeat_queued", hb_queued);
  return cases;
}

}  // namespace btrq
