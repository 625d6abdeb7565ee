#pragma once

// The ZeroMQ wire protocol as plain structs (docs/protocol.md). No msgpack types here:
// common/codec.h turns these into frames and back.
//
// A frame is one msgpack array [protocol_version, type, body_map]. The numbers of
// MessageType and the body keys (in codec.cc) are on the wire: do not renumber or rename.
// Several tasks, DONEs, results and ACKs travel in one frame (batching), so every such
// body holds a list.

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "common/ids.h"

namespace btrq {

inline constexpr uint32_t kProtocolVersion = 2;

enum class MessageType : uint32_t {
  // worker -> broker
  kHello = 1,
  kCredit = 2,
  kHeartbeat = 3,
  kDone = 4,
  kBye = 5,
  // broker -> worker
  kTask = 10,
  kCancel = 11,
  kBrokerHeartbeat = 12,
  kDrain = 13,
  kReject = 14,
  // worker -> broker
  kRefuse = 15,
  // worker -> sink, sink -> worker
  kResult = 20,
  kAck = 21,
};

// A value in analytic params and results: a named number or string.
using FieldValue = std::variant<int64_t, double, std::string>;
// Ordered as the producer emitted them; names unique.
using Fields = std::vector<std::pair<std::string, FieldValue>>;

// Why a task failed, which decides retry versus dead letter.
enum class ErrorClass : uint32_t {
  kNone = 0,
  kTransient = 1,  // BTrDB unavailable, timeout: retry with backoff
  kPermanent = 2,  // bad params, analytic threw: dead-letter
};

struct HelloMsg {
  std::string worker_id;
  std::string host;
  int64_t pid = 0;
  uint32_t threads = 0;
  std::vector<std::string> analytics;  // names this worker can run
  // worker.exec.commands: the programs its `exec` may run (empty: exec is off).
  std::vector<std::string> exec_commands;
  // Its worker.python.modules, when it offers `python` (HELLO's `y`).
  std::vector<std::string> python_modules;
};

struct CreditMsg {
  uint32_t credit = 0;  // n more tasks the worker can take
};

// A task in progress, as named in heartbeats.
struct TaskRef {
  TaskKey key;
  uint32_t attempt = 0;
  auto operator<=>(const TaskRef&) const = default;
};

struct HeartbeatMsg {
  std::vector<TaskRef> running;       // started (or, from an older worker, queued too)
  std::vector<TaskRef> awaiting_ack;  // finished, result awaiting the sink's ACK: no cap
  std::vector<TaskRef> queued;        // received, not started; renewed like `running`
};

struct DoneItem {
  TaskRef task;
  ErrorClass error = ErrorClass::kNone;  // kNone: the sink holds the result
  std::string message;                    // the error, when there is one
  int64_t points_read = 0;                // raw points the attempt read (0 when unknown)
  // Not attempted: a dependency (BTrDB) was down. With kTransient; the broker requeues
  // the task without spending an attempt.
  bool dependency_down = false;
  std::string receipt;  // the sink's receipt for the stored result (common/lease_token.h)
};

struct DoneMsg {
  std::vector<DoneItem> items;
};

struct ByeMsg {};

struct TaskSpec {
  TaskKey key;           // key.start is the chunk's start
  uint32_t attempt = 1;  // 1 on first dispatch
  int64_t end = 0;       // exclusive
  uint64_t version = 0;  // the stream version pinned at expansion; 0 = latest
  std::string analytic;
  Fields params;
  // The stream's [earliest, latest] as pinned at expansion, for analytics that clip to
  // the data's extent (quality).
  int64_t stream_earliest = 0;
  int64_t stream_latest = 0;
  // HMAC proof that the broker leased this attempt to the worker (common/lease_token.h);
  // empty when the broker has no lease secret.
  std::string lease_token;
};

struct TaskMsg {
  std::vector<TaskSpec> tasks;
};

struct CancelMsg {
  JobId job = 0;
};

struct BrokerHeartbeatMsg {};

struct DrainMsg {};

struct RejectMsg {
  std::string reason;
};

// A task the worker cannot take (its TASK frame broke a limit of the worker's codec):
// the broker dead-letters it with `reason`. Its credit comes back in a later CREDIT.
struct RefuseItem {
  TaskRef task;
  std::string reason;
};

struct RefuseMsg {
  std::vector<RefuseItem> items;
};

struct TaskResult {
  TaskRef task;
  int64_t end = 0;
  uint64_t version = 0;
  std::string worker_id;
  Fields fields;             // the analytic's output
  int64_t duration_ns = 0;   // time spent in the analytic, reading included
  int64_t points_read = 0;
  std::string lease_token;  // the TASK's, returned to the sink
};

struct ResultMsg {
  std::vector<TaskResult> results;
};

// The sink's receipt (common/lease_token.h) for the result of one attempt of a task.
struct AckReceipt {
  uint32_t attempt = 0;  // of the result it was issued for
  std::string mac;       // empty: none
};

struct AckMsg {
  std::vector<TaskKey> keys;  // results now durable in the sink
  // Empty, or one per key.
  std::vector<AckReceipt> receipts;
};

using Message = std::variant<HelloMsg, CreditMsg, HeartbeatMsg, DoneMsg, ByeMsg, TaskMsg,
                             CancelMsg, BrokerHeartbeatMsg, DrainMsg, RejectMsg, ResultMsg,
                             AckMsg, RefuseMsg>;

MessageType TypeOf(const Message& m);
std::string_view MessageTypeName(MessageType t);

}  // namespace btrq
