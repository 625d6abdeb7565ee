#include "common/codec.h"

// Decoding: each message body is read by DecodeMap / DecodeArray over MsgpackReader
// (common/msgpack_reader.h), straight into our structs, with no msgpack object tree; the
// key table atop codec.cc is the contract these functions check.

#include <algorithm>
#include <cstring>
#include <limits>
#include <new>
#include <string>
#include <vector>

#include "common/msgpack_reader.h"

namespace btrq {
namespace {

// The body keys of one map-shaped struct, in a fixed order; index = bit in `seen`.
struct KeySpec {
  std::string_view key;
  bool required;
};

// Keys are one or two characters: compared inline, not through memcmp.
inline bool SameKey(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

// Reads a map at `depth` whose keys are `keys`; `read(index)` reads the value of
// keys[index]. Unknown keys are skipped; duplicates and missing required keys fail.
// Keys may come in any order; the encoder writes them in `keys`' order, so the key after
// the last one matched is tried first.
template <size_t N, typename ReadField>
bool DecodeMap(MsgpackReader& r, uint32_t depth, const KeySpec (&keys)[N],
               std::string_view what, ReadField&& read) {
  static_assert(N <= 32);
  uint32_t n;
  if (!r.ReadMapHeader(depth, &n, what)) return false;
  uint32_t seen = 0;
  size_t expected = 0;
  for (uint32_t i = 0; i < n; ++i) {
    std::string_view key;
    if (!r.ReadStr(&key, "map key")) return r.AddContext(what);
    size_t index = N;
    if (expected < N && SameKey(keys[expected].key, key)) {
      index = expected;
    } else {
      for (size_t k = 0; k < N; ++k) {
        if (SameKey(keys[k].key, key)) {
          index = k;
          break;
        }
      }
    }
    if (index == N) {
      if (!r.Skip(depth + 1)) return false;
      continue;
    }
    if (seen & (1u << index)) {
      return r.Fail(DecodeErrorReason::kBadField,
                    std::string(what) + ": duplicate key '" + std::string(key) + "'");
    }
    seen |= 1u << index;
    expected = index + 1;
    if (!read(index)) return r.AddContext(what);
  }
  for (size_t k = 0; k < N; ++k) {
    if (keys[k].required && !(seen & (1u << k))) {
      return r.Fail(DecodeErrorReason::kBadField, std::string(what) + ": missing key '" +
                                                      std::string(keys[k].key) + "'");
    }
  }
  return true;
}

// Reads an array at `depth` of items read by `read_item(i)`; adds "what[i]" context.
template <typename ReadItem>
bool DecodeArray(MsgpackReader& r, uint32_t depth, std::string_view what, uint32_t* count,
                 ReadItem&& read_item) {
  if (!r.ReadArrayHeader(depth, count, what)) return false;
  for (uint32_t i = 0; i < *count; ++i) {
    if (!read_item(i)) {
      return r.AddContext(std::string(what) + "[" + std::to_string(i) + "]");
    }
  }
  return true;
}

// Vectors grow with the items actually decoded; the up-front reservation is capped so
// that a large announced count of tiny, invalid items allocates little.
constexpr uint32_t kMaxReserve = 256;

bool ReadStream(MsgpackReader& r, Uuid* out) {
  std::string_view b;
  if (!r.ReadBin(&b, "key 's'")) return false;
  if (b.size() != 16) {
    return r.Fail(DecodeErrorReason::kBadField,
                  "key 's': stream uuid must be 16 bytes, got " + std::to_string(b.size()));
  }
  std::memcpy(out->bytes.data(), b.data(), 16);
  return true;
}

bool ReadString(MsgpackReader& r, std::string* out, std::string_view what) {
  std::string_view s;
  if (!r.ReadStr(&s, what)) return false;
  out->assign(s.data(), s.size());
  return true;
}

bool ReadBytes(MsgpackReader& r, std::string* out, std::string_view what) {
  std::string_view b;
  if (!r.ReadBin(&b, what)) return false;
  out->assign(b.data(), b.size());
  return true;
}

bool ReadStrings(MsgpackReader& r, std::vector<std::string>* out, std::string_view what) {
  uint32_t n;
  return DecodeArray(r, 3, what, &n, [&](uint32_t) {
    return ReadString(r, &out->emplace_back(), what);
  });
}

// Shared by every struct that starts with a task key (indices 0..3: "j", "s", "b", "jn")
// and attempt (4); a struct's own keys follow from kOwn.
enum TaskRefIndex : size_t { kJob = 0, kStream = 1, kStart = 2, kNonce = 3, kAttempt = 4 };
constexpr size_t kOwn = kAttempt + 1;

bool ReadTaskKeyField(MsgpackReader& r, size_t index, TaskKey* key) {
  switch (index) {
    case kJob: return r.ReadUint64(&key->job, "key 'j'");
    case kStream: return ReadStream(r, &key->stream);
    case kNonce: return r.ReadUint64(&key->nonce, "key 'jn'");
    default: return r.ReadInt64(&key->start, "key 'b'");
  }
}

bool ReadFields(MsgpackReader& r, uint32_t depth, Fields* out, std::string_view what) {
  uint32_t n;
  if (!r.ReadMapHeader(depth, &n, what)) return false;
  out->clear();
  out->reserve(std::min(n, kMaxReserve));
  for (uint32_t i = 0; i < n; ++i) {
    std::string_view name;
    if (!r.ReadStr(&name, "name")) return r.AddContext(what);
    FieldValue value;
    bool ok;
    switch (r.PeekKind()) {
      case MsgpackKind::kUint:
      case MsgpackKind::kInt: {
        int64_t v = 0;
        ok = r.ReadInt64(&v, "value");
        value = v;
        break;
      }
      case MsgpackKind::kFloat: {
        double d = 0;
        ok = r.ReadFloat(&d, "value");
        value = d;
        break;
      }
      default: {
        std::string_view s;
        ok = r.ReadStr(&s, "value (int, float or str)");
        if (ok) value = std::string(s);
        break;
      }
    }
    if (!ok) return r.AddContext(std::string(what) + " '" + std::string(name) + "'");
    out->emplace_back(std::string(name), std::move(value));
  }
  // Names are unique: pairwise for small maps, sorted otherwise.
  if (out->size() <= 16) {
    for (size_t i = 0; i < out->size(); ++i) {
      for (size_t j = i + 1; j < out->size(); ++j) {
        if ((*out)[i].first == (*out)[j].first) {
          return r.Fail(DecodeErrorReason::kBadField, std::string(what) + ": duplicate name '" +
                                                          (*out)[i].first + "'");
        }
      }
    }
  } else {
    std::vector<std::string_view> names;
    names.reserve(out->size());
    for (const auto& f : *out) names.push_back(f.first);
    std::sort(names.begin(), names.end());
    const auto dup = std::adjacent_find(names.begin(), names.end());
    if (dup != names.end()) {
      return r.Fail(DecodeErrorReason::kBadField,
                    std::string(what) + ": duplicate name '" + std::string(*dup) + "'");
    }
  }
  return true;
}

// Body decoders: the body map is at depth 2, list items at 4, fields maps at 5.

bool DecodeBody(MsgpackReader& r, HelloMsg* m) {
  static constexpr KeySpec kKeys[] = {
      {"w", true}, {"h", true}, {"p", true}, {"t", true}, {"a", true}, {"x", false},
      {"y", false}};
  return DecodeMap(r, 2, kKeys, "HELLO", [&](size_t i) {
    switch (i) {
      case 0: return ReadString(r, &m->worker_id, "key 'w'");
      case 1: return ReadString(r, &m->host, "key 'h'");
      case 2: return r.ReadInt64(&m->pid, "key 'p'");
      case 3: return r.ReadUint32(&m->threads, "key 't'");
      case 4: return ReadStrings(r, &m->analytics, "analytics");
      case 5: return ReadStrings(r, &m->exec_commands, "exec commands");
      default: return ReadStrings(r, &m->python_modules, "python modules");
    }
  });
}

bool DecodeBody(MsgpackReader& r, CreditMsg* m) {
  static constexpr KeySpec kKeys[] = {{"n", true}};
  return DecodeMap(r, 2, kKeys, "CREDIT",
                   [&](size_t) { return r.ReadUint32(&m->credit, "key 'n'"); });
}

bool DecodeTaskRef(MsgpackReader& r, TaskRef* t) {
  static constexpr KeySpec kKeys[] = {
      {"j", true}, {"s", true}, {"b", true}, {"jn", false}, {"n", true}};
  return DecodeMap(r, 4, kKeys, "taskref", [&](size_t i) {
    if (i == kAttempt) return r.ReadUint32(&t->attempt, "key 'n'");
    return ReadTaskKeyField(r, i, &t->key);
  });
}

bool DecodeBody(MsgpackReader& r, HeartbeatMsg* m) {
  static constexpr KeySpec kKeys[] = {{"r", true}, {"a", false}, {"q", false}};
  static constexpr const char* kNames[] = {"running", "awaiting_ack", "queued"};
  return DecodeMap(r, 2, kKeys, "HEARTBEAT", [&](size_t k) {
    std::vector<TaskRef>* refs = k == 0 ? &m->running : k == 1 ? &m->awaiting_ack : &m->queued;
    uint32_t n;
    return DecodeArray(r, 3, kNames[k], &n, [&](uint32_t i) {
      if (i == 0) refs->reserve(std::min(n, kMaxReserve));
      return DecodeTaskRef(r, &refs->emplace_back());
    });
  });
}

bool DecodeBody(MsgpackReader& r, DoneMsg* m) {
  static constexpr KeySpec kKeys[] = {{"i", true}};
  static constexpr KeySpec kItemKeys[] = {{"j", true},  {"s", true},  {"b", true},
                                          {"jn", false}, {"n", true},  {"c", true},
                                          {"m", false}, {"pr", false}, {"dd", false},
                                          {"rc", false}};
  return DecodeMap(r, 2, kKeys, "DONE", [&](size_t) {
    uint32_t n;
    return DecodeArray(r, 3, "items", &n, [&](uint32_t i) {
      if (i == 0) m->items.reserve(std::min(n, kMaxReserve));
      DoneItem& d = m->items.emplace_back();
      return DecodeMap(r, 4, kItemKeys, "done item", [&](size_t k) {
        switch (k) {
          case kAttempt: return r.ReadUint32(&d.task.attempt, "key 'n'");
          case kOwn: {
            uint32_t c;
            if (!r.ReadUint32(&c, "key 'c'")) return false;
            if (c > static_cast<uint32_t>(ErrorClass::kPermanent)) {
              return r.Fail(DecodeErrorReason::kBadField,
                            "key 'c': unknown error class " + std::to_string(c));
            }
            d.error = static_cast<ErrorClass>(c);
            return true;
          }
          case kOwn + 1: return ReadString(r, &d.message, "key 'm'");
          case kOwn + 2: return r.ReadInt64(&d.points_read, "key 'pr'");
          case kOwn + 3: {
            uint32_t dd;
            if (!r.ReadUint32(&dd, "key 'dd'")) return false;
            if (dd > 1) return r.Fail(DecodeErrorReason::kBadField, "key 'dd': not 0 or 1");
            d.dependency_down = dd == 1;
            return true;
          }
          case kOwn + 4: return ReadBytes(r, &d.receipt, "key 'rc'");
          default: return ReadTaskKeyField(r, k, &d.task.key);
        }
      });
    });
  });
}

// One task map, at depth 4.
bool DecodeTask(MsgpackReader& r, TaskSpec* t) {
  static constexpr KeySpec kTaskKeys[] = {{"j", true},  {"s", true},  {"b", true},
                                          {"jn", false}, {"n", true}, {"e", true},
                                          {"v", true},  {"an", true}, {"p", false},
                                          {"se", true}, {"sl", true}, {"lt", false}};
  return DecodeMap(r, 4, kTaskKeys, "task", [&](size_t k) {
    switch (k) {
      case kAttempt: return r.ReadUint32(&t->attempt, "key 'n'");
      case kOwn: return r.ReadInt64(&t->end, "key 'e'");
      case kOwn + 1: return r.ReadUint64(&t->version, "key 'v'");
      case kOwn + 2: return ReadString(r, &t->analytic, "key 'an'");
      case kOwn + 3: return ReadFields(r, 5, &t->params, "params");
      case kOwn + 4: return r.ReadInt64(&t->stream_earliest, "key 'se'");
      case kOwn + 5: return r.ReadInt64(&t->stream_latest, "key 'sl'");
      case kOwn + 6: return ReadBytes(r, &t->lease_token, "key 'lt'");
      default: return ReadTaskKeyField(r, k, &t->key);
    }
  });
}

bool DecodeBody(MsgpackReader& r, TaskMsg* m) {
  static constexpr KeySpec kKeys[] = {{"t", true}};
  return DecodeMap(r, 2, kKeys, "TASK", [&](size_t) {
    uint32_t n;
    return DecodeArray(r, 3, "tasks", &n, [&](uint32_t i) {
      if (i == 0) m->tasks.reserve(std::min(n, kMaxReserve));
      return DecodeTask(r, &m->tasks.emplace_back());
    });
  });
}

bool DecodeBody(MsgpackReader& r, RefuseMsg* m) {
  static constexpr KeySpec kKeys[] = {{"i", true}};
  static constexpr KeySpec kItemKeys[] = {
      {"j", true}, {"s", true}, {"b", true}, {"jn", false}, {"n", true}, {"m", true}};
  return DecodeMap(r, 2, kKeys, "REFUSE", [&](size_t) {
    uint32_t n;
    return DecodeArray(r, 3, "items", &n, [&](uint32_t i) {
      if (i == 0) m->items.reserve(std::min(n, kMaxReserve));
      RefuseItem& item = m->items.emplace_back();
      return DecodeMap(r, 4, kItemKeys, "refuse item", [&](size_t k) {
        if (k == kAttempt) return r.ReadUint32(&item.task.attempt, "key 'n'");
        if (k == kOwn) return ReadString(r, &item.reason, "key 'm'");
        return ReadTaskKeyField(r, k, &item.task.key);
      });
    });
  });
}

bool DecodeBody(MsgpackReader& r, CancelMsg* m) {
  static constexpr KeySpec kKeys[] = {{"j", true}};
  return DecodeMap(r, 2, kKeys, "CANCEL",
                   [&](size_t) { return r.ReadUint64(&m->job, "key 'j'"); });
}

bool DecodeBody(MsgpackReader& r, RejectMsg* m) {
  static constexpr KeySpec kKeys[] = {{"r", true}};
  return DecodeMap(r, 2, kKeys, "REJECT",
                   [&](size_t) { return ReadString(r, &m->reason, "key 'r'"); });
}

bool DecodeBody(MsgpackReader& r, ResultMsg* m) {
  static constexpr KeySpec kKeys[] = {{"r", true}};
  static constexpr KeySpec kResultKeys[] = {
      {"j", true}, {"s", true}, {"b", true}, {"jn", false}, {"n", true}, {"e", true},
      {"v", true}, {"w", true}, {"f", true}, {"d", true},   {"pr", true}, {"lt", false}};
  return DecodeMap(r, 2, kKeys, "RESULT", [&](size_t) {
    uint32_t n;
    return DecodeArray(r, 3, "results", &n, [&](uint32_t i) {
      if (i == 0) m->results.reserve(std::min(n, kMaxReserve));
      TaskResult& t = m->results.emplace_back();
      return DecodeMap(r, 4, kResultKeys, "result", [&](size_t k) {
        switch (k) {
          case kAttempt: return r.ReadUint32(&t.task.attempt, "key 'n'");
          case kOwn: return r.ReadInt64(&t.end, "key 'e'");
          case kOwn + 1: return r.ReadUint64(&t.version, "key 'v'");
          case kOwn + 2: return ReadString(r, &t.worker_id, "key 'w'");
          case kOwn + 3: return ReadFields(r, 5, &t.fields, "fields");
          case kOwn + 4: return r.ReadInt64(&t.duration_ns, "key 'd'");
          case kOwn + 5: return r.ReadInt64(&t.points_read, "key 'pr'");
          case kOwn + 6: return ReadBytes(r, &t.lease_token, "key 'lt'");
          default: return ReadTaskKeyField(r, k, &t.task.key);
        }
      });
    });
  });
}

bool DecodeBody(MsgpackReader& r, AckMsg* m) {
  static constexpr KeySpec kKeys[] = {{"k", true}};
  static constexpr KeySpec kKeyKeys[] = {
      {"j", true}, {"s", true}, {"b", true}, {"jn", false}, {"n", false}, {"rc", false}};
  bool any_receipt = false;
  const bool ok = DecodeMap(r, 2, kKeys, "ACK", [&](size_t) {
    uint32_t n;
    return DecodeArray(r, 3, "keys", &n, [&](uint32_t i) {
      if (i == 0) m->keys.reserve(std::min(n, kMaxReserve));
      TaskKey& key = m->keys.emplace_back();
      AckReceipt& receipt = m->receipts.emplace_back();
      return DecodeMap(r, 4, kKeyKeys, "taskkey", [&](size_t k) {
        if (k == kAttempt) return r.ReadUint32(&receipt.attempt, "key 'n'");
        if (k != kOwn) return ReadTaskKeyField(r, k, &key);
        any_receipt = true;
        return ReadBytes(r, &receipt.mac, "key 'rc'");
      });
    });
  });
  // Receipts are all-or-nothing in the struct: none kept when no key had one.
  if (ok && !any_receipt) m->receipts.clear();
  return ok;
}

// Bodies without fields: a map whose (unknown) keys are skipped.
bool DecodeEmptyBody(MsgpackReader& r, std::string_view what) {
  static constexpr KeySpec kNone[] = {{"", false}};
  return DecodeMap(r, 2, kNone, what, [&r](size_t) { return r.Skip(3); });
}

template <typename T>
bool DecodeInto(MsgpackReader& r, Message* out) {
  T& m = out->emplace<T>();
  return DecodeBody(r, &m);
}

bool DecodeTyped(MsgpackReader& r, MessageType type, Message* out) {
  switch (type) {
    case MessageType::kHello: return DecodeInto<HelloMsg>(r, out);
    case MessageType::kCredit: return DecodeInto<CreditMsg>(r, out);
    case MessageType::kHeartbeat: return DecodeInto<HeartbeatMsg>(r, out);
    case MessageType::kDone: return DecodeInto<DoneMsg>(r, out);
    case MessageType::kBye: out->emplace<ByeMsg>(); return DecodeEmptyBody(r, "BYE");
    case MessageType::kTask: return DecodeInto<TaskMsg>(r, out);
    case MessageType::kCancel: return DecodeInto<CancelMsg>(r, out);
    case MessageType::kBrokerHeartbeat:
      out->emplace<BrokerHeartbeatMsg>();
      return DecodeEmptyBody(r, "BROKER_HEARTBEAT");
    case MessageType::kDrain: out->emplace<DrainMsg>(); return DecodeEmptyBody(r, "DRAIN");
    case MessageType::kReject: return DecodeInto<RejectMsg>(r, out);
    case MessageType::kRefuse: return DecodeInto<RefuseMsg>(r, out);
    case MessageType::kResult: return DecodeInto<ResultMsg>(r, out);
    case MessageType::kAck: return DecodeInto<AckMsg>(r, out);
  }
  return r.Fail(DecodeErrorReason::kUnknownType,
                "unknown message type " + std::to_string(static_cast<uint32_t>(type)));
}

bool IsKnownType(uint64_t t) {
  switch (static_cast<MessageType>(t)) {
    case MessageType::kHello: case MessageType::kCredit: case MessageType::kHeartbeat:
    case MessageType::kDone: case MessageType::kBye: case MessageType::kTask:
    case MessageType::kCancel: case MessageType::kBrokerHeartbeat: case MessageType::kDrain:
    case MessageType::kReject: case MessageType::kResult: case MessageType::kAck:
    case MessageType::kRefuse:
      return t <= std::numeric_limits<uint32_t>::max();
  }
  return false;
}

Status DecodeFailure(DecodeErrorReason reason, const std::string& message) {
  std::string text(DecodeErrorReasonName(reason));
  text += ": ";
  text += message;
  return Status(StatusCode::kInvalidMessage, std::move(text), static_cast<int32_t>(reason));
}

Result<Message> DecodeFrame(std::string_view frame, const CodecLimits& limits) {
  if (frame.size() > limits.max_frame_bytes) {
    return DecodeFailure(DecodeErrorReason::kTooLarge,
                         "frame of " + std::to_string(frame.size()) +
                             " bytes exceeds max_frame_bytes " +
                             std::to_string(limits.max_frame_bytes));
  }
  MsgpackReader r(frame, limits);
  Message message;
  const auto fail = [&r]() { return DecodeFailure(r.reason(), r.error()); };

  const MsgpackKind first = r.PeekKind();  // records "truncated" for an empty frame
  if (r.reason() == DecodeErrorReason::kNone && first != MsgpackKind::kArray) {
    r.Fail(DecodeErrorReason::kMalformed, "frame is not a msgpack array (starts with " +
                                              std::string(MsgpackKindName(first)) + ")");
  }
  uint32_t n;
  if (r.reason() != DecodeErrorReason::kNone || !r.ReadArrayHeader(1, &n, "frame")) {
    return fail();
  }
  if (n != 3) {
    r.Fail(DecodeErrorReason::kMalformed,
           "frame must be [version, type, body], got an array of " + std::to_string(n));
    return fail();
  }
  uint64_t version, type;
  if (!r.ReadUint64(&version, "protocol version")) return fail();
  if (version != kProtocolVersion) {
    r.Fail(DecodeErrorReason::kBadVersion, "protocol version: expected " +
                                               std::to_string(kProtocolVersion) + ", got " +
                                               std::to_string(version));
    return fail();
  }
  if (!r.ReadUint64(&type, "message type")) return fail();
  if (!IsKnownType(type)) {
    r.Fail(DecodeErrorReason::kUnknownType, "unknown message type " + std::to_string(type));
    return fail();
  }
  if (!DecodeTyped(r, static_cast<MessageType>(type), &message)) return fail();
  if (!r.at_end()) {
    r.Fail(DecodeErrorReason::kMalformed,
           std::to_string(r.remaining()) + " trailing bytes after the frame");
    return fail();
  }
  return message;
}

// `limits` with every size bound raised to the frame's length (announced counts are still
// checked against the bytes left), to walk a frame that broke them.
CodecLimits Lenient(const CodecLimits& limits, size_t frame_size) {
  CodecLimits out = limits;
  const auto n = static_cast<uint32_t>(
      std::min<size_t>(frame_size, std::numeric_limits<uint32_t>::max()));
  out.max_frame_bytes = std::max(limits.max_frame_bytes, frame_size);
  out.max_str = std::max(out.max_str, n);
  out.max_bin = std::max(out.max_bin, n);
  out.max_array = std::max(out.max_array, n);
  out.max_map = std::max(out.max_map, n);
  return out;
}

// One task's bytes: kept when it decodes within `limits`, else refused by its key.
void SalvageOne(std::string_view bytes, const CodecLimits& limits, const CodecLimits& lenient,
                SalvagedTasks* out) {
  MsgpackReader strict(bytes, limits);
  TaskSpec task;
  if (DecodeTask(strict, &task) && strict.at_end()) {
    out->tasks.tasks.push_back(std::move(task));
    return;
  }
  MsgpackReader keys(bytes, lenient);
  RefuseItem item;
  if (!DecodeTaskRef(keys, &item.task)) {
    ++out->lost;
    return;
  }
  item.reason = std::string(DecodeErrorReasonName(strict.reason())) + ": " + strict.error();
  out->refused.push_back(std::move(item));
}

Result<SalvagedTasks> SalvageFrame(std::string_view frame, const CodecLimits& limits) {
  const CodecLimits lenient = Lenient(limits, frame.size());
  MsgpackReader r(frame, lenient);
  uint32_t n = 0;
  uint64_t version = 0, type = 0;
  if (!r.ReadArrayHeader(1, &n, "frame") || n != 3 ||
      !r.ReadUint64(&version, "protocol version") || version != kProtocolVersion ||
      !r.ReadUint64(&type, "message type") || type != static_cast<uint64_t>(MessageType::kTask)) {
    return DecodeFailure(DecodeErrorReason::kMalformed, "not a TASK frame");
  }
  SalvagedTasks out;
  static constexpr KeySpec kKeys[] = {{"t", true}};
  const bool ok = DecodeMap(r, 2, kKeys, "TASK", [&](size_t) {
    uint32_t count;
    return DecodeArray(r, 3, "tasks", &count, [&](uint32_t) {
      const size_t begin = frame.size() - r.remaining();
      if (!r.Skip(4)) return false;
      SalvageOne(frame.substr(begin, frame.size() - r.remaining() - begin), limits, lenient,
                 &out);
      return true;
    });
  });
  if (!ok) return DecodeFailure(r.reason(), r.error());
  return out;
}

}  // namespace

Result<Message> DecodeMessage(std::string_view frame, const CodecLimits& limits) {
  try {
    return DecodeFrame(frame, limits);
  } catch (const std::bad_alloc&) {
    // Only the decoded message's own strings and vectors are allocated, each bounded by
    // the frame; this is reached only when the process is already out of memory.
    return DecodeFailure(DecodeErrorReason::kLimits,
                         "out of memory decoding a frame of " + std::to_string(frame.size()) +
                             " bytes");
  }
}

Result<SalvagedTasks> SalvageTaskFrame(std::string_view frame, const CodecLimits& limits) {
  try {
    return SalvageFrame(frame, limits);
  } catch (const std::bad_alloc&) {
    return DecodeFailure(DecodeErrorReason::kLimits, "out of memory salvaging a TASK frame");
  }
}

}  // namespace btrq
