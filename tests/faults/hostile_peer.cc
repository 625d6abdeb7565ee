#include "tests/faults/hostile_peer.h"

#include <chrono>
#include <map>
#include <string>
#include <thread>

#include <zmq.hpp>

#include "common/codec.h"
#include "common/messages.h"
#include "common/zmq_util.h"

namespace btrq::faults {
namespace {

using Clock = std::chrono::steady_clock;

constexpr Millis kRefusedWithin{15'000};
// Over the default max_frame_bytes (16 MiB), under the twice of it that drops the link.
constexpr size_t kOversized = (size_t{17} << 20);
// Over twice max_frame_bytes: the peer's connection is dropped.
constexpr size_t kFarOversized = (size_t{40} << 20);

std::string RandomBytes(std::mt19937_64* rng, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(std::uniform_int_distribution<int>(0, 255)(*rng));
  return s;
}

// 0xc1 is never valid msgpack: a frame that cannot decode, whatever follows.
std::string Garbage(std::mt19937_64* rng) { return "\xc1" + RandomBytes(rng, 64); }

// `message` as protocol version 1: refused with REJECT.
std::string OtherVersion(const Message& message) {
  std::string frame = EncodeMessage(message);
  if (frame.size() > 1 && frame[1] == static_cast<char>(kProtocolVersion)) frame[1] = 1;
  return frame;
}

class Peer {
 public:
  static Result<Peer> Connect(zmq::context_t& context, const std::string& endpoint) {
    SocketOptions o;
    o.linger_ms = 2'000;
    BTRQ_ASSIGN_OR_RETURN(zmq::socket_t socket, MakeSocket(context, zmq::socket_type::dealer, o));
    BTRQ_RETURN_IF_ERROR(btrq::Connect(socket, endpoint));
    return Peer(std::move(socket));
  }
  void Send(const std::string& frame) {
    // Blocking is fine: a few frames, and the peer reads them.
    socket_.send(zmq::buffer(frame), zmq::send_flags::none);
  }
  void Send(const Message& message) { Send(EncodeMessage(message)); }

 private:
  explicit Peer(zmq::socket_t socket) : socket_(std::move(socket)) {}
  zmq::socket_t socket_;
};

// The ids of the workers the broker knows now.
Result<std::vector<std::string>> LiveWorkerIds(Cluster* cluster) {
  BTRQ_ASSIGN_OR_RETURN(CliRun run, cluster->Cli({"workers", "--json"}));
  if (run.exit_code != 0) return Status::Unavailable("btrq workers: " + run.err);
  BTRQ_ASSIGN_OR_RETURN(testing::Json doc, testing::Json::Parse(run.out));
  std::vector<std::string> ids;
  for (const testing::Json& w : doc["workers"].elements()) ids.push_back(w["id"].AsString());
  return ids;
}

using Counts = std::map<std::string, double>;

Counts ReadCounts(Cluster* cluster, Role role, const std::vector<std::string>& reasons) {
  Counts counts;
  for (const std::string& r : reasons) {
    Result<double> v = cluster->Metric(role, "btrq_bad_messages_total{reason=\"" + r + "\"}");
    counts[r] = v.ok() ? *v : 0;
  }
  return counts;
}

// Waits until every reason's count rose above `before`.
Status AwaitRefused(Cluster* cluster, Role role, const Counts& before) {
  const auto deadline = Clock::now() + kRefusedWithin;
  std::vector<std::string> reasons;
  for (const auto& [r, n] : before) reasons.push_back(r);
  for (;;) {
    std::string missing;
    for (const auto& [r, n] : ReadCounts(cluster, role, reasons)) {
      if (n <= before.at(r)) missing += (missing.empty() ? "" : ", ") + r;
    }
    if (missing.empty()) return Status::OK();
    if (Clock::now() >= deadline) {
      return Status::DeadlineExceeded(std::string(RoleName(role)) +
                                      " did not count these hostile frames as refused: " +
                                      missing);
    }
    std::this_thread::sleep_for(Millis(100));
  }
}

// A HELLO that passes every check, under `id`.
HelloMsg Hello(const std::string& id) {
  return HelloMsg{.worker_id = id, .host = "intruder", .pid = 1, .threads = 1,
                  .analytics = {"quality", "noop", "count"}};
}

// DONE, REFUSE and HEARTBEAT for `targets`, attempts 1 to 3, from a peer that said HELLO
// under an id of its own: none is its lease.
void ForgeWorkerFrames(Peer* peer, const std::vector<TaskKey>& targets, std::mt19937_64* rng) {
  DoneMsg done;
  RefuseMsg refuse;
  HeartbeatMsg heartbeat;
  for (const TaskKey& key : targets) {
    for (uint32_t attempt = 1; attempt <= 3; ++attempt) {
      const TaskRef ref{key, attempt};
      done.items.push_back(DoneItem{.task = ref, .points_read = 7});
      done.items.push_back(DoneItem{.task = ref, .points_read = 7, .receipt = RandomBytes(rng, 16)});
      done.items.push_back(
          DoneItem{.task = ref, .error = ErrorClass::kPermanent, .message = "forged failure"});
      done.items.push_back(DoneItem{.task = ref, .error = ErrorClass::kTransient,
                                    .message = "forged outage", .dependency_down = true});
      refuse.items.push_back(RefuseItem{.task = ref, .reason = "forged refusal"});
      heartbeat.running.push_back(ref);
      heartbeat.awaiting_ack.push_back(ref);
    }
  }
  peer->Send(Message(heartbeat));
  peer->Send(Message(done));
  peer->Send(Message(refuse));
}

// RESULTs for `targets` with wrong values, claiming a live worker's id, with no and with
// a wrong lease token.
ResultMsg ForgedResults(const std::vector<TaskKey>& targets, const std::string& worker,
                        std::mt19937_64* rng) {
  ResultMsg msg;
  for (const TaskKey& key : targets) {
    for (uint32_t attempt = 1; attempt <= 3; ++attempt) {
      TaskResult r;
      r.task = TaskRef{key, attempt};
      r.end = key.start + 1;
      r.worker_id = worker;
      r.fields = {{"count", int64_t{-1}}, {"score", 42.0}};
      msg.results.push_back(r);
      r.lease_token = RandomBytes(rng, 16);
      msg.results.push_back(r);
    }
  }
  return msg;
}

Status HitBroker(Cluster* cluster, zmq::context_t& context, const std::vector<TaskKey>& targets,
                 const std::vector<std::string>& live, std::mt19937_64* rng) {
  const std::string& endpoint = cluster->tasks_endpoint();
  BTRQ_ASSIGN_OR_RETURN(Peer junk, Peer::Connect(context, endpoint));
  junk.Send(Garbage(rng));
  junk.Send(OtherVersion(Message(Hello("intruder-v1"))));
  junk.Send(std::string(kOversized, 'x'));
  // Frames from a peer that never said HELLO.
  junk.Send(Message(CreditMsg{1'000'000}));
  junk.Send(Message(DoneMsg{}));
  HelloMsg huge = Hello("intruder-huge");
  for (int i = 0; i < 300'000; ++i) huge.analytics.push_back("analytic-" + std::to_string(i));
  junk.Send(Message(huge));
  HelloMsg huge_exec = Hello("intruder-exec");
  huge_exec.analytics.push_back("exec");
  for (int i = 0; i < 300'000; ++i) huge_exec.exec_commands.push_back("/opt/p" + std::to_string(i));
  junk.Send(Message(huge_exec));
  if (!live.empty()) junk.Send(Message(Hello(live[0])));  // a live worker's id

  BTRQ_ASSIGN_OR_RETURN(Peer forger, Peer::Connect(context, endpoint));
  forger.Send(Message(Hello("intruder-" + std::to_string((*rng)() % 1'000'000))));
  ForgeWorkerFrames(&forger, targets, rng);
  forger.Send(Message(ByeMsg{}));

  BTRQ_ASSIGN_OR_RETURN(Peer flood, Peer::Connect(context, endpoint));
  flood.Send(std::string(kFarOversized, 'y'));
  return Status::OK();
}

Status HitSink(Cluster* cluster, zmq::context_t& context, const std::vector<TaskKey>& targets,
               const std::vector<std::string>& live, std::mt19937_64* rng) {
  const std::string& endpoint = cluster->results_endpoint();
  BTRQ_ASSIGN_OR_RETURN(Peer peer, Peer::Connect(context, endpoint));
  peer.Send(Garbage(rng));
  peer.Send(std::string(kOversized, 'z'));
  peer.Send(Message(Hello("intruder-at-sink")));
  if (!targets.empty()) {
    peer.Send(Message(ForgedResults(targets, live.empty() ? "intruder" : live[0], rng)));
  }
  BTRQ_ASSIGN_OR_RETURN(Peer flood, Peer::Connect(context, endpoint));
  flood.Send(std::string(kFarOversized, 'w'));
  return Status::OK();
}

}  // namespace

Status SendHostileFrames(Cluster* cluster, const std::vector<TaskKey>& targets,
                         std::mt19937_64* rng) {
  BTRQ_ASSIGN_OR_RETURN(std::vector<std::string> live, LiveWorkerIds(cluster));
  std::vector<std::string> broker_reasons = {"malformed", "bad_version", "too_large",
                                             "unknown_worker", "bad_field"};
  if (!live.empty()) broker_reasons.push_back("worker_id_in_use");
  if (!targets.empty()) broker_reasons.insert(broker_reasons.end(), {"bad_receipt", "stale_done"});
  std::vector<std::string> sink_reasons = {"malformed", "too_large", "wrong_type"};
  if (!targets.empty()) sink_reasons.push_back("bad_lease_token");
  const Counts broker_before = ReadCounts(cluster, Role::kBroker, broker_reasons);
  const Counts sink_before = ReadCounts(cluster, Role::kSink, sink_reasons);

  zmq::context_t context;
  BTRQ_RETURN_IF_ERROR(HitBroker(cluster, context, targets, live, rng));
  BTRQ_RETURN_IF_ERROR(HitSink(cluster, context, targets, live, rng));
  BTRQ_RETURN_IF_ERROR(AwaitRefused(cluster, Role::kBroker, broker_before));
  return AwaitRefused(cluster, Role::kSink, sink_before);
}

}  // namespace btrq::faults
