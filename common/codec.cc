#include "common/codec.h"

// The wire format, and its encoder. The only file that includes msgpack: encoding goes
// through msgpack::packer into a std::string. Decoding (codec_decode.cc) does not use
// msgpack-c: a hand-written, bounds-checked reader (msgpack_reader.h) walks the raw
// bytes and builds our structs directly (no msgpack object tree), because:
//   - every announced length or count is checked against the bytes left and against
//     CodecLimits before anything is allocated, so a 5-byte frame announcing 4G elements
//     costs nothing, and a frame's decoded size is bounded by its own length;
//   - nesting is walked with an explicit, fixed-size stack (no recursion on peer data);
//   - it allocates only the decoded strings and vectors, and no exception escapes.
//
// Frame: msgpack array [protocol_version (uint), type (uint), body (map)], exactly 3
// elements and nothing after it. Body keys are short strings. DO NOT rename keys or
// renumber MessageType: they are on the wire (docs/protocol.md is the reference).
//
//   message            key   type                    required  field
//   -----------------  ----  ----------------------  --------  -------------------------
//   HELLO (1)          w     str                     yes       worker_id
//                      h     str                     yes       host
//                      p     int (int64)             yes       pid
//                      t     uint (uint32)           yes       threads
//                      a     array of str            yes       analytics
//                      x     array of str            no        exec allow-list (worker.exec.commands)
//   CREDIT (2)         n     uint (uint32)           yes       credit
//   HEARTBEAT (3)      r     array of taskref        yes       running
//   DONE (4)           i     array of done-item      yes       items
//   BYE (5)            -     empty map
//   TASK (10)          t     array of task           yes       tasks
//   CANCEL (11)        j     uint (uint64)           yes       job
//   BROKER_HB (12)     -     empty map
//   DRAIN (13)         -     empty map
//   REJECT (14)        r     str                     yes       reason
//   REFUSE (15)        i     array of refuse-item    yes       items
//   RESULT (20)        r     array of result         yes       results
//   ACK (21)           k     array of ack-key        yes       keys
//
//   taskkey   {j: uint64 job, s: bin16 stream, b: int64 start,
//              jn: uint64 job nonce (optional, 0; omitted when 0)}
//   taskref   taskkey keys + {n: uint32 attempt}
//   done-item taskref keys + {c: uint error class 0|1|2, m: str message (optional, ""),
//                             pr: int64 points_read (optional, 0),
//                             dd: uint 0|1 dependency down (optional, 0),
//                             rc: bin receipt (optional, empty)}
//   ack-key   taskkey keys + {n: uint32 attempt, rc: bin receipt (both optional, together)}
//   refuse-item taskref keys + {m: str reason}
//   task      taskref keys + {e: int64 end, v: uint64 version, an: str analytic,
//                             p: fields (optional, empty), se: int64 stream_earliest,
//                             sl: int64 stream_latest, lt: bin lease token (optional)}
//   result    taskref keys + {e: int64 end, v: uint64 version, w: str worker_id,
//                             f: fields, d: int64 duration_ns, pr: int64 points_read,
//                             lt: bin lease token (optional)}
//   fields    map of str name -> int (int64) | float (float64; float32 accepted) | str;
//             names unique; order preserved.
//
// Rules: integers may use any msgpack int format whose value fits the field (negative
// for an unsigned field is bad_field); a key seen twice is bad_field; unknown keys are
// skipped (forward compatibility) but still count against the limits; nil, bool and ext
// are accepted only inside skipped values (ext only when CodecLimits::max_ext allows).

#include <cstring>
#include <optional>

#include <msgpack.hpp>

namespace btrq {
namespace {

// A msgpack::packer stream appending to a std::string.
struct StringSink {
  std::string* out;
  void write(const char* data, size_t n) { out->append(data, n); }
};

class Encoder {
 public:
  explicit Encoder(std::string* out) : sink_{out}, pk_(sink_) {}

  void ArrayHeader(size_t n) { pk_.pack_array(static_cast<uint32_t>(n)); }
  void MapHeader(size_t n) { pk_.pack_map(static_cast<uint32_t>(n)); }
  void Key(std::string_view k) { Str(k); }
  void Str(std::string_view s) {
    pk_.pack_str(static_cast<uint32_t>(s.size()));
    pk_.pack_str_body(s.data(), static_cast<uint32_t>(s.size()));
  }
  void Bin(std::string_view b) {
    pk_.pack_bin(static_cast<uint32_t>(b.size()));
    pk_.pack_bin_body(b.data(), static_cast<uint32_t>(b.size()));
  }
  void Uint(uint64_t v) { pk_.pack_uint64(v); }
  void Int(int64_t v) { pk_.pack_int64(v); }
  // Always float64: msgpack::packer::pack_double writes integral doubles as ints, which
  // would turn a FieldValue 2.0 into 2.
  void Float64(double d) {
    uint64_t bits;
    std::memcpy(&bits, &d, sizeof(bits));
    char buf[9];
    buf[0] = static_cast<char>(0xcb);
    for (int i = 0; i < 8; ++i) buf[1 + i] = static_cast<char>(bits >> (56 - 8 * i));
    sink_.out->append(buf, sizeof(buf));
  }

  // [protocol_version, type, ...]: the body follows.
  void FrameHeader(MessageType type) {
    ArrayHeader(3);
    Uint(kProtocolVersion);
    Uint(static_cast<uint32_t>(type));
  }

  // How many map entries TaskKeyFields writes: "jn" only for a nonce, so a legacy key
  // (nonce 0) costs what it did before nonces.
  static size_t TaskKeyFieldCount(const TaskKey& k) { return k.nonce == 0 ? 3 : 4; }
  void TaskKeyFields(const TaskKey& k) {
    Key("j"), Uint(k.job);
    Key("s"), Bin(k.stream.AsBytes());
    Key("b"), Int(k.start);
    if (k.nonce != 0) Key("jn"), Uint(k.nonce);
  }
  void TaskRefFields(const TaskRef& r) {
    TaskKeyFields(r.key);
    Key("n"), Uint(r.attempt);
  }
  void FieldsMap(const Fields& fields) {
    MapHeader(fields.size());
    for (const auto& [name, value] : fields) {
      Str(name);
      if (const auto* i = std::get_if<int64_t>(&value)) {
        Int(*i);
      } else if (const auto* d = std::get_if<double>(&value)) {
        Float64(*d);
      } else {
        Str(std::get<std::string>(value));
      }
    }
  }

  void Body(const HelloMsg& m) {
    MapHeader(5 + (m.exec_commands.empty() ? 0 : 1) + (m.python_modules.empty() ? 0 : 1));
    Key("w"), Str(m.worker_id);
    Key("h"), Str(m.host);
    Key("p"), Int(m.pid);
    Key("t"), Uint(m.threads);
    Key("a"), ArrayHeader(m.analytics.size());
    for (const auto& a : m.analytics) Str(a);
    if (!m.exec_commands.empty()) {
      Key("x"), ArrayHeader(m.exec_commands.size());
      for (const auto& c : m.exec_commands) Str(c);
    }
    if (!m.python_modules.empty()) {
      Key("y"), ArrayHeader(m.python_modules.size());
      for (const auto& c : m.python_modules) Str(c);
    }
  }
  void Body(const CreditMsg& m) {
    MapHeader(1);
    Key("n"), Uint(m.credit);
  }
  void TaskRefArray(const std::vector<TaskRef>& refs) {
    ArrayHeader(refs.size());
    for (const auto& r : refs) {
      MapHeader(TaskKeyFieldCount(r.key) + 1);
      TaskRefFields(r);
    }
  }
  void Body(const HeartbeatMsg& m) {
    MapHeader(1 + (m.awaiting_ack.empty() ? 0 : 1) + (m.queued.empty() ? 0 : 1));
    Key("r"), TaskRefArray(m.running);
    if (!m.awaiting_ack.empty()) Key("a"), TaskRefArray(m.awaiting_ack);
    if (!m.queued.empty()) Key("q"), TaskRefArray(m.queued);
  }
  void Body(const DoneMsg& m) {
    MapHeader(1);
    Key("i"), ArrayHeader(m.items.size());
    for (const auto& d : m.items) {
      MapHeader(TaskKeyFieldCount(d.task.key) + 2 + (d.message.empty() ? 0 : 1) +
                (d.points_read == 0 ? 0 : 1) + (d.dependency_down ? 1 : 0) +
                (d.receipt.empty() ? 0 : 1));
      TaskRefFields(d.task);
      Key("c"), Uint(static_cast<uint32_t>(d.error));
      if (!d.message.empty()) Key("m"), Str(d.message);
      if (d.points_read != 0) Key("pr"), Int(d.points_read);
      if (d.dependency_down) Key("dd"), Uint(1);
      if (!d.receipt.empty()) Key("rc"), Bin(d.receipt);
    }
  }
  void Body(const TaskMsg& m) {
    MapHeader(1);
    Key("t"), ArrayHeader(m.tasks.size());
    for (const auto& t : m.tasks) {
      MapHeader(TaskKeyFieldCount(t.key) + 6 + (t.params.empty() ? 0 : 1) +
                (t.lease_token.empty() ? 0 : 1));
      TaskKeyFields(t.key);
      Key("n"), Uint(t.attempt);
      Key("e"), Int(t.end);
      Key("v"), Uint(t.version);
      Key("an"), Str(t.analytic);
      if (!t.params.empty()) Key("p"), FieldsMap(t.params);
      Key("se"), Int(t.stream_earliest);
      Key("sl"), Int(t.stream_latest);
      if (!t.lease_token.empty()) Key("lt"), Bin(t.lease_token);
    }
  }
  void Body(const CancelMsg& m) {
    MapHeader(1);
    Key("j"), Uint(m.job);
  }
  void Body(const RefuseMsg& m) {
    MapHeader(1);
    Key("i"), ArrayHeader(m.items.size());
    for (const auto& item : m.items) {
      MapHeader(TaskKeyFieldCount(item.task.key) + 2);
      TaskRefFields(item.task);
      Key("m"), Str(item.reason);
    }
  }
  void Body(const RejectMsg& m) {
    MapHeader(1);
    Key("r"), Str(m.reason);
  }
  void Body(const ResultMsg& m) {
    ResultsBody(m.results, [](const TaskResult& r) -> const TaskResult& { return r; });
  }
  // A RESULT body over any range whose elements `deref` turns into TaskResults; with
  // `worker_id`, it replaces each result's.
  template <typename Range, typename Deref>
  void ResultsBody(const Range& results, Deref deref,
                   std::optional<std::string_view> worker_id = std::nullopt) {
    MapHeader(1);
    Key("r"), ArrayHeader(results.size());
    for (const auto& element : results) {
      const TaskResult& r = deref(element);
      MapHeader(TaskKeyFieldCount(r.task.key) + 7 + (r.lease_token.empty() ? 0 : 1));
      TaskRefFields(r.task);
      Key("e"), Int(r.end);
      Key("v"), Uint(r.version);
      Key("w"), Str(worker_id.value_or(r.worker_id));
      Key("f"), FieldsMap(r.fields);
      Key("d"), Int(r.duration_ns);
      Key("pr"), Int(r.points_read);
      if (!r.lease_token.empty()) Key("lt"), Bin(r.lease_token);
    }
  }
  void Body(const AckMsg& m) {
    MapHeader(1);
    Key("k"), ArrayHeader(m.keys.size());
    const bool receipts = m.receipts.size() == m.keys.size();
    for (size_t i = 0; i < m.keys.size(); ++i) {
      const bool rc = receipts && !m.receipts[i].mac.empty();
      MapHeader(TaskKeyFieldCount(m.keys[i]) + (rc ? 2 : 0));
      TaskKeyFields(m.keys[i]);
      if (rc) Key("n"), Uint(m.receipts[i].attempt), Key("rc"), Bin(m.receipts[i].mac);
    }
  }
  void Body(const ByeMsg&) { MapHeader(0); }
  void Body(const BrokerHeartbeatMsg&) { MapHeader(0); }
  void Body(const DrainMsg&) { MapHeader(0); }

 private:
  StringSink sink_;
  msgpack::packer<StringSink> pk_;
};

}  // namespace

std::string_view DecodeErrorReasonName(DecodeErrorReason reason) {
  switch (reason) {
    case DecodeErrorReason::kNone: return "none";
    case DecodeErrorReason::kTooLarge: return "too_large";
    case DecodeErrorReason::kBadVersion: return "bad_version";
    case DecodeErrorReason::kUnknownType: return "unknown_type";
    case DecodeErrorReason::kMalformed: return "malformed";
    case DecodeErrorReason::kLimits: return "limits";
    case DecodeErrorReason::kBadField: return "bad_field";
  }
  return "unknown";
}

DecodeErrorReason DecodeReasonOf(const Status& status) {
  if (status.code() != StatusCode::kInvalidMessage) return DecodeErrorReason::kNone;
  const int32_t sub = status.subcode();
  if (sub < static_cast<int32_t>(DecodeErrorReason::kTooLarge) ||
      sub > static_cast<int32_t>(DecodeErrorReason::kBadField)) {
    return DecodeErrorReason::kNone;
  }
  return static_cast<DecodeErrorReason>(sub);
}

size_t TaskEncodedBytesBound(const TaskSpec& task) {
  // A map header (5), eleven keys (3 each), ten scalars (9 each, the stream's bin 18) and
  // the analytic's str header (5); each param a str header (5), a value (9, or 5 + str).
  size_t bytes = 5 + 11 * 3 + 10 * 9 + 18 + 5 + task.analytic.size() + 5;
  if (!task.lease_token.empty()) bytes += 3 + 5 + task.lease_token.size();  // key "lt", bin
  for (const auto& [name, value] : task.params) {
    bytes += 5 + name.size() + 9;
    if (const auto* s = std::get_if<std::string>(&value)) bytes += s->size();
  }
  return bytes;
}

void EncodeMessage(const Message& message, std::string* out) {
  out->clear();
  Encoder enc(out);
  enc.FrameHeader(TypeOf(message));
  std::visit([&enc](const auto& m) { enc.Body(m); }, message);
}

std::string EncodeMessage(const Message& message) {
  std::string out;
  EncodeMessage(message, &out);
  return out;
}

void EncodeResults(std::span<const TaskResult* const> results, std::string_view worker_id,
                   std::string* out) {
  out->clear();
  Encoder enc(out);
  enc.FrameHeader(MessageType::kResult);
  enc.ResultsBody(results, [](const TaskResult* r) -> const TaskResult& { return *r; },
                  worker_id);
}

}  // namespace btrq
