#include "common/zap.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <zmq.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/fake_clock.h"
#include "tests/support/status_matchers.h"

namespace btrq {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr milliseconds kDeadline(5000);
// How long a socket is watched to show that nothing arrives. Used only after the refusal
// has been observed (counter or monitor event): libzmq delivers a peer's messages only after
// a successful handshake, and the handshake has already failed, so this bounded poll is a
// check that nothing slipped through, not a wait for something to happen.
constexpr milliseconds kQuietPeriod(200);

// Polls `condition` until it holds or `kDeadline` passes; returns its last value.
template <typename Condition>
bool WaitFor(Condition condition) {
  const auto deadline = Clock::now() + kDeadline;
  while (!condition()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(1));  // a re-check interval, not a wait for time
  }
  return true;
}

std::vector<std::string> RecvWithin(zmq::socket_t& s, milliseconds timeout,
                                    std::string* user_id = nullptr) {
  std::vector<std::string> out;
  Result<bool> ready = PollIn(s, timeout);
  if (!ready.ok() || !*ready) return out;
  std::vector<zmq::message_t> frames;
  Result<bool> got = RecvMultipart(s, 16, &frames);
  EXPECT_OK(got);
  for (const auto& f : frames) out.push_back(f.to_string());
  if (user_id != nullptr && !frames.empty()) {
    const char* id = frames.back().gets("User-Id");
    *user_id = id == nullptr ? "" : id;
  }
  return out;
}

Status Send(zmq::socket_t& s, std::vector<std::string_view> frames) {
  return SendMultipart(s, frames, /*dont_wait=*/false);
}

CurveKeyBytes Raw(const std::string& z85) {
  Result<CurveKeyBytes> key = CurveKeyFromZ85(z85);
  EXPECT_OK(key);
  return key.ok() ? *key : CurveKeyBytes{};
}

double CounterValue(metrics::Registry& registry, const std::string& name,
                    const metrics::Labels& labels = {}) {
  Result<metrics::Counter*> c = registry.AddCounter(name, "", labels);
  return c.ok() ? (*c)->value() : -1;
}

double Refused(metrics::Registry& registry, const std::string& reason) {
  return CounterValue(registry, "btrq_auth_refused_total", {{"reason", reason}});
}

// A temporary directory, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "btrq-zap-XXXXXX").string();
    path_ = mkdtemp(pattern.data()) != nullptr ? pattern : "";
    EXPECT_FALSE(path_.empty());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string Write(const std::string& name, const std::string& content) const {
    const std::string file = path_ + "/" + name;
    std::ofstream(file) << content;
    return file;
  }

 private:
  std::string path_;
};

// A CURVE ROUTER with an authenticator that lets in `authorized` client keys.
class ZapServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(server_keys_, GenerateCurveKeyPair());
    ASSERT_OK_AND_ASSIGN(listed_, GenerateCurveKeyPair());
    ASSERT_OK_AND_ASSIGN(unlisted_, GenerateCurveKeyPair());
  }

  // `socket_domain` is the ROUTER's ZMQ_ZAP_DOMAIN, `handler_domain` ZapOptions::domain.
  void StartServer(SocketOptions server_options, const std::string& socket_domain = "",
                   const std::string& handler_domain = "") {
    ZapOptions zap;
    if (keys_file_.empty()) {
      zap.authorized_keys = {Raw(listed_.public_key)};
    } else {
      ASSERT_OK_AND_ASSIGN(std::vector<CurveKeyBytes> keys, LoadAuthorizedKeys(keys_file_));
      zap.authorized_keys.insert(keys.begin(), keys.end());
      zap.authorized_keys_file = keys_file_;
    }
    zap.domain = handler_domain;
    zap.metrics = &registry_;
    zap.clock = &clock_;
    ASSERT_OK_AND_ASSIGN(auth_, ZapAuthenticator::Start(ctx_, zap));
    ASSERT_OK_AND_ASSIGN(router_, MakeSocket(ctx_, zmq::socket_type::router, server_options));
    if (!socket_domain.empty()) router_.set(zmq::sockopt::zap_domain, socket_domain);
    ASSERT_OK_AND_ASSIGN(endpoint_, Bind(router_, "tcp://127.0.0.1:*"));
  }
  void StartCurveServer() {
    SocketOptions o;
    o.curve_server = CurveServerKeys{server_keys_.secret_key};
    StartServer(o);
  }

  SocketOptions ClientOptions(const CurveKeyPair& client) const {
    SocketOptions o;
    o.curve_client =
        CurveClientKeys{server_keys_.public_key, client.public_key, client.secret_key};
    return o;
  }

  zmq::socket_t ConnectedClient(const CurveKeyPair& client, const std::string& routing_id) {
    return Connected(ClientOptions(client), routing_id);
  }

  // True when a fresh client with `keys` gets a message through to the server, false
  // when the handler refuses its key.
  bool GetsThrough(const CurveKeyPair& keys, const std::string& id) {
    const double refused_before = Refused(registry_, "unknown_key");
    zmq::socket_t client = ConnectedClient(keys, id);
    EXPECT_OK(Send(client, {"hello"}));
    // Whichever comes first: the message, or the refusal.
    const auto deadline = Clock::now() + kDeadline;
    while (Clock::now() < deadline) {
      const std::vector<std::string> got = RecvWithin(router_, milliseconds(10));
      if (!got.empty()) return got == std::vector<std::string>{id, "hello"};
      if (Refused(registry_, "unknown_key") > refused_before) return false;
    }
    ADD_FAILURE() << id << ": neither through nor refused";
    return false;
  }

  zmq::socket_t Connected(SocketOptions options, const std::string& routing_id) {
    options.routing_id = routing_id;
    Result<zmq::socket_t> s = MakeSocket(ctx_, zmq::socket_type::dealer, options);
    EXPECT_OK(s);
    if (!s.ok()) return zmq::socket_t();
    EXPECT_OK(Connect(*s, endpoint_));
    return *std::move(s);
  }

  void TearDown() override {
    router_.close();
    if (auth_) auth_->Stop();
  }

  // When set, StartServer's keys come from this authorized-keys file, which is watched.
  std::string keys_file_;
  // The handler's time: it reads the keys file again at a handshake 100 ms after its last
  // read, and takes keys away once the file has read the same for a second.
  testing::FakeClock clock_;
  zmq::context_t ctx_;
  metrics::Registry registry_;
  CurveKeyPair server_keys_, listed_, unlisted_;
  std::unique_ptr<ZapAuthenticator> auth_;
  zmq::socket_t router_;
  std::string endpoint_;
};

TEST_F(ZapServerTest, ListedKeyGetsThroughAndUnlistedKeyDoesNot) {
  StartCurveServer();
  zmq::socket_t good = Connected(ClientOptions(listed_), "good");
  zmq::socket_t bad = Connected(ClientOptions(unlisted_), "bad");
  ASSERT_OK(Send(bad, {"from-bad"}));
  ASSERT_OK(Send(good, {"from-good"}));

  // The listed client's round trip works, and the server learns its key as User-Id.
  std::string user_id;
  EXPECT_EQ(RecvWithin(router_, kDeadline, &user_id),
            (std::vector<std::string>{"good", "from-good"}));
  EXPECT_EQ(user_id, listed_.public_key);
  ASSERT_OK(Send(router_, {"good", "reply"}));
  EXPECT_EQ(RecvWithin(good, kDeadline), (std::vector<std::string>{"reply"}));

  // The unlisted one is refused and counted; then nothing of it reaches the server.
  EXPECT_TRUE(WaitFor([&] { return Refused(registry_, "unknown_key") >= 1; }));
  EXPECT_GE(auth_->refused(), 1u);
  EXPECT_GE(auth_->accepted(), 1u);
  EXPECT_GE(CounterValue(registry_, "btrq_auth_accepted_total"), 1);
  EXPECT_EQ(RecvWithin(router_, kQuietPeriod), std::vector<std::string>());
  EXPECT_NE(registry_.Render().find("btrq_auth_refused_total{reason=\"unknown_key\"}"),
            std::string::npos);
}

// Replaces `path` as an operator should: a new file renamed over the old one, so a
// handshake never reads it half written.
void ReplaceFile(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".new";
  std::ofstream(tmp) << content;
  std::filesystem::rename(tmp, path);
}

TEST_F(ZapServerTest, KeysFileChangesTakeEffectAtTheNextHandshake) {
  TempDir dir;
  keys_file_ = dir.Write("authorized_keys", "# workers\n" + listed_.public_key + " w1\n");
  StartCurveServer();
  const auto later = [&](milliseconds d) { clock_.Advance(d); };
  EXPECT_EQ(auth_->authorized_keys(), 1u);
  EXPECT_FALSE(GetsThrough(unlisted_, "new-1"));
  EXPECT_TRUE(GetsThrough(listed_, "old-1"));

  // A key appended: let in at its next handshake, without a restart.
  zmq::socket_t kept = ConnectedClient(listed_, "kept");
  ASSERT_OK(Send(kept, {"before"}));
  EXPECT_EQ(RecvWithin(router_, kDeadline), (std::vector<std::string>{"kept", "before"}));
  ReplaceFile(keys_file_, listed_.public_key + " w1\n" + unlisted_.public_key + " w2\n");
  later(milliseconds(100));
  EXPECT_TRUE(GetsThrough(unlisted_, "new-2"));
  EXPECT_EQ(auth_->authorized_keys(), 2u);

  // A file caught half rewritten (here: empty) takes no key away: it reads whole again
  // within the second.
  ReplaceFile(keys_file_, "");
  later(milliseconds(100));
  EXPECT_TRUE(GetsThrough(listed_, "old-2"));
  ReplaceFile(keys_file_, listed_.public_key + " w1\n" + unlisted_.public_key + " w2\n");
  later(milliseconds(1000));
  EXPECT_TRUE(GetsThrough(listed_, "old-3"));
  EXPECT_EQ(auth_->authorized_keys(), 2u);

  // A key removed: still let in while the change is younger than a second, refused once
  // the file has read the same for a second; a connection made before stays up.
  ReplaceFile(keys_file_, unlisted_.public_key + " w2\n");
  later(milliseconds(100));
  EXPECT_TRUE(GetsThrough(listed_, "old-4"));
  later(milliseconds(1000));
  EXPECT_FALSE(GetsThrough(listed_, "old-5"));
  EXPECT_TRUE(GetsThrough(unlisted_, "new-3"));
  ASSERT_OK(Send(kept, {"after"}));
  EXPECT_EQ(RecvWithin(router_, kDeadline), (std::vector<std::string>{"kept", "after"}));
  EXPECT_EQ(auth_->authorized_keys(), 1u);
  EXPECT_TRUE(auth_->Authorized(unlisted_.public_key));
  EXPECT_FALSE(auth_->Authorized(listed_.public_key));

  // A broken file, then none at all: the keys stay as they were, and each failed read is
  // counted.
  const auto file_errors = [&] {
    return CounterValue(registry_, "btrq_auth_keys_file_errors_total");
  };
  EXPECT_EQ(file_errors(), 0);
  ReplaceFile(keys_file_, "not-a-key\n");
  later(milliseconds(100));
  EXPECT_TRUE(GetsThrough(unlisted_, "new-4"));
  later(milliseconds(100));
  EXPECT_FALSE(GetsThrough(listed_, "old-6"));
  EXPECT_GE(file_errors(), 2);
  std::filesystem::remove(keys_file_);
  const double errors_before = file_errors();
  later(milliseconds(100));
  EXPECT_TRUE(GetsThrough(unlisted_, "new-5"));
  EXPECT_GT(file_errors(), errors_before);
  EXPECT_EQ(auth_->authorized_keys(), 1u);
  EXPECT_NE(registry_.Render().find("btrq_auth_authorized_keys 1"), std::string::npos);
}

// libzmq refuses a client without CURVE on a CURVE socket itself (mechanism mismatch),
// before asking the handler; shown here through the server's handshake-failure event.
TEST_F(ZapServerTest, ClientWithoutCurveGetsNothingThrough) {
  StartCurveServer();
  const std::string monitor_endpoint = "inproc://zap-test-monitor";
  ASSERT_EQ(zmq_socket_monitor(router_.handle(), monitor_endpoint.c_str(),
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                   ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                                   ZMQ_EVENT_HANDSHAKE_FAILED_AUTH),
            0);
  zmq::socket_t monitor(ctx_, zmq::socket_type::pair);
  monitor.set(zmq::sockopt::linger, 0);
  monitor.connect(monitor_endpoint);

  zmq::socket_t plain = Connected(SocketOptions(), "plain");
  ASSERT_OK(Send(plain, {"from-plain"}));
  // Event frames: [uint16 event, uint32 value][endpoint].
  EXPECT_EQ(RecvWithin(monitor, kDeadline).size(), 2u) << "no handshake failure reported";
  EXPECT_EQ(RecvWithin(router_, kQuietPeriod), std::vector<std::string>());
  monitor.close();
}

// A server socket without CURVE but with a ZAP domain asks the handler about NULL clients:
// they are refused, since only CURVE keys are let in.
TEST_F(ZapServerTest, NullMechanismIsRefused) {
  StartServer(SocketOptions(), /*socket_domain=*/"btrq");

  zmq::socket_t plain = Connected(SocketOptions(), "plain");
  ASSERT_OK(Send(plain, {"from-plain"}));
  EXPECT_TRUE(WaitFor([&] { return Refused(registry_, "mechanism") >= 1; }));
  EXPECT_EQ(RecvWithin(router_, kQuietPeriod), std::vector<std::string>());
}

TEST_F(ZapServerTest, ForeignDomainIsRefusedEvenForListedKey) {
  SocketOptions o;
  o.curve_server = CurveServerKeys{server_keys_.secret_key};
  StartServer(o, /*socket_domain=*/"elsewhere", /*handler_domain=*/"btrq-broker");

  zmq::socket_t good = Connected(ClientOptions(listed_), "good");
  ASSERT_OK(Send(good, {"from-good"}));
  EXPECT_TRUE(WaitFor([&] { return Refused(registry_, "domain") >= 1; }));
  EXPECT_EQ(RecvWithin(router_, kQuietPeriod), std::vector<std::string>());
}

TEST(ZapAuthenticator, OneHandlerPerContextAndStopReleasesIt) {
  zmq::context_t ctx;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ZapAuthenticator> first,
                       ZapAuthenticator::Start(ctx, ZapOptions()));
  Result<std::unique_ptr<ZapAuthenticator>> second = ZapAuthenticator::Start(ctx, ZapOptions());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);

  first->Stop();
  first->Stop();  // idempotent
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ZapAuthenticator> third,
                       ZapAuthenticator::Start(ctx, ZapOptions()));
}

TEST(ZapAuthenticator, ContextShutdownEndsTheHandlerThread) {
  zmq::context_t ctx;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ZapAuthenticator> auth,
                       ZapAuthenticator::Start(ctx, ZapOptions()));
  // The thread sees ETERM, closes its socket, and Stop() then only joins it.
  ctx.shutdown();
  auth->Stop();
  ctx.close();
}

// ---------------------------------------------------------------------------------------
// Key files

TEST(LoadAuthorizedKeys, ReadsKeysCommentsLabelsAndBlankLines) {
  ASSERT_OK_AND_ASSIGN(CurveKeyPair a, GenerateCurveKeyPair());
  ASSERT_OK_AND_ASSIGN(CurveKeyPair b, GenerateCurveKeyPair());
  ASSERT_OK_AND_ASSIGN(CurveKeyPair c, GenerateCurveKeyPair());
  TempDir dir;
  const std::string path = dir.Write("authorized_keys",
                                     "# workers\n"
                                     "\n" +
                                         a.public_key + "\n" +
                                         "   " + b.public_key + "  worker-2 on host-7\r\n" +
                                         "#" + c.public_key + "\n" +  // commented out
                                         a.public_key + "\n");        // duplicate
  ASSERT_OK_AND_ASSIGN(std::vector<CurveKeyBytes> keys, LoadAuthorizedKeys(path));
  EXPECT_EQ(keys, (std::vector<CurveKeyBytes>{Raw(a.public_key), Raw(b.public_key)}));
}

TEST(LoadAuthorizedKeys, LineStartingWithHashIsAlwaysAComment) {
  // '#' is a Z85 character, but no valid key starts with it (the group would exceed 2^32).
  const std::string hash_key = "#" + std::string(39, '0');
  EXPECT_FALSE(CurveKeyFromZ85(hash_key).ok());
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(std::vector<CurveKeyBytes> keys,
                       LoadAuthorizedKeys(dir.Write("k", hash_key + "\n")));
  EXPECT_TRUE(keys.empty());
}

TEST(LoadAuthorizedKeys, ErrorsNameFileAndLine) {
  ASSERT_OK_AND_ASSIGN(CurveKeyPair a, GenerateCurveKeyPair());
  TempDir dir;
  const std::string short_key = dir.Write("short", "# ok\n" + a.public_key + "\nabc\n");
  Result<std::vector<CurveKeyBytes>> r = LoadAuthorizedKeys(short_key);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message().rfind(short_key + ":3: ", 0), 0u) << r.status().ToString();

  std::string bad_char = a.public_key;
  bad_char[5] = '"';
  const std::string bad = dir.Write("bad", "\n" + bad_char + "\n");
  r = LoadAuthorizedKeys(bad);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message().rfind(bad + ":2: ", 0), 0u) << r.status().ToString();

  r = LoadAuthorizedKeys(dir.path() + "/missing");
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find(dir.path() + "/missing"), std::string::npos);
}

TEST(KeyPairFiles, WrittenWithPrivateSecretAndReadBack) {
  TempDir dir;
  ASSERT_OK(WriteKeyPair(dir.path(), "worker-1"));
  const std::string secret = dir.path() + "/worker-1.key";
  const std::string pub = dir.path() + "/worker-1.pub";

  struct stat st;
  ASSERT_EQ(stat(secret.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  ASSERT_OK_AND_ASSIGN(CurveKeyPair pair, ReadKeyPair(secret));
  ASSERT_OK_AND_ASSIGN(std::string derived, CurvePublicKey(pair.secret_key));
  EXPECT_EQ(pair.public_key, derived);
  // The .pub file is itself an authorized-keys file holding that public key.
  ASSERT_OK_AND_ASSIGN(std::vector<CurveKeyBytes> keys, LoadAuthorizedKeys(pub));
  EXPECT_EQ(keys, (std::vector<CurveKeyBytes>{Raw(pair.public_key)}));

  // Nothing is overwritten.
  EXPECT_EQ(WriteKeyPair(dir.path(), "worker-1").status().code(), StatusCode::kAlreadyExists);
  ASSERT_OK_AND_ASSIGN(CurveKeyPair again, ReadKeyPair(secret));
  EXPECT_EQ(again.secret_key, pair.secret_key);

  EXPECT_EQ(WriteKeyPair(dir.path(), "a/b").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(WriteKeyPair(dir.path(), "").status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(WriteKeyPair(dir.path() + "/no-such-dir", "w").ok());
}

TEST(KeyPairFiles, OverwriteReplacesBothFilesWithExactModes) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(CurveKeyPair first, WriteKeyPair(dir.path(), "w"));
  const std::string secret = dir.path() + "/w.key";
  const std::string pub = dir.path() + "/w.pub";
  ASSERT_EQ(chmod(secret.c_str(), 0644), 0);
  ASSERT_OK_AND_ASSIGN(CurveKeyPair second, WriteKeyPair(dir.path(), "w", /*overwrite=*/true));
  EXPECT_NE(second.secret_key, first.secret_key);
  ASSERT_OK_AND_ASSIGN(CurveKeyPair read, ReadKeyPair(secret));
  EXPECT_EQ(read.secret_key, second.secret_key);
  EXPECT_EQ(read.public_key, second.public_key);
  struct stat st;
  ASSERT_EQ(stat(secret.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat(pub.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
}

TEST(KeyPairFiles, ReadKeyPairRejectsEmptyAndDoubleFiles) {
  ASSERT_OK_AND_ASSIGN(CurveKeyPair a, GenerateCurveKeyPair());
  TempDir dir;
  const std::string empty = dir.Write("empty.key", "# nothing\n\n");
  EXPECT_EQ(ReadKeyPair(empty).status().code(), StatusCode::kInvalidArgument);
  const std::string two = dir.Write("two.key", a.secret_key + "\n" + a.secret_key + "\n");
  Result<CurveKeyPair> r = ReadKeyPair(two);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message().rfind(two + ":2: ", 0), 0u) << r.status().ToString();
}

// ---------------------------------------------------------------------------------------
// SocketOptions from CurveOptions

TEST(CurveOptionsFrom, DisabledLeavesOptionsAlone) {
  CurveOptions curve;  // enabled = false
  SocketOptions base;
  base.linger_ms = 7;
  ASSERT_OK_AND_ASSIGN(SocketOptions server, CurveServerOptionsFrom(curve, base));
  EXPECT_EQ(server.linger_ms, 7);
  EXPECT_FALSE(server.curve_server.has_value());
  ASSERT_OK_AND_ASSIGN(SocketOptions client, CurveClientOptionsFrom(curve, "", base));
  EXPECT_FALSE(client.curve_client.has_value());
}

TEST(CurveOptionsFrom, ChecksKeys) {
  ASSERT_OK_AND_ASSIGN(CurveKeyPair a, GenerateCurveKeyPair());
  ASSERT_OK_AND_ASSIGN(CurveKeyPair b, GenerateCurveKeyPair());
  CurveOptions curve;
  curve.enabled = true;
  EXPECT_EQ(CurveServerOptionsFrom(curve).status().code(), StatusCode::kInvalidArgument);

  curve.secret_key = a.secret_key;
  curve.public_key = b.public_key;  // not a's
  EXPECT_EQ(CurveServerOptionsFrom(curve).status().code(), StatusCode::kInvalidArgument);

  curve.public_key = a.public_key;
  EXPECT_EQ(CurveClientOptionsFrom(curve, "").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CurveClientOptionsFrom(curve, "short").status().code(),
            StatusCode::kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(SocketOptions client, CurveClientOptionsFrom(curve, b.public_key));
  ASSERT_TRUE(client.curve_client.has_value());
  EXPECT_EQ(client.curve_client->server_public_key, b.public_key);
  EXPECT_EQ(client.curve_client->public_key, a.public_key);
  EXPECT_EQ(client.curve_client->secret_key, a.secret_key);

  EXPECT_EQ(ZapOptionsFrom(curve).status().code(), StatusCode::kInvalidArgument);
}

// What broker, sink and worker do: keys from `btrq keygen` files, one line per socket.
TEST(CurveOptionsFrom, KeygenFilesConfigureAWorkingLink) {
  TempDir dir;
  ASSERT_OK(WriteKeyPair(dir.path(), "broker"));
  ASSERT_OK(WriteKeyPair(dir.path(), "worker"));
  ASSERT_OK_AND_ASSIGN(CurveKeyPair broker_pair, ReadKeyPair(dir.path() + "/broker.key"));

  CurveOptions broker;
  broker.enabled = true;
  broker.secret_key_file = dir.path() + "/broker.key";
  broker.authorized_keys_file = dir.path() + "/worker.pub";
  CurveOptions worker;
  worker.enabled = true;
  worker.secret_key_file = dir.path() + "/worker.key";
  worker.broker_public_key = broker_pair.public_key;

  zmq::context_t ctx;
  ASSERT_OK_AND_ASSIGN(ZapOptions zap, ZapOptionsFrom(broker));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ZapAuthenticator> auth, ZapAuthenticator::Start(ctx, zap));
  ASSERT_OK_AND_ASSIGN(SocketOptions server_options, CurveServerOptionsFrom(broker));
  ASSERT_OK_AND_ASSIGN(SocketOptions client_options,
                       CurveClientOptionsFrom(worker, worker.broker_public_key));
  client_options.routing_id = "w";

  ASSERT_OK_AND_ASSIGN(zmq::socket_t router,
                       MakeSocket(ctx, zmq::socket_type::router, server_options));
  ASSERT_OK_AND_ASSIGN(std::string endpoint, Bind(router, "tcp://127.0.0.1:*"));
  ASSERT_OK_AND_ASSIGN(zmq::socket_t dealer,
                       MakeSocket(ctx, zmq::socket_type::dealer, client_options));
  ASSERT_OK(Connect(dealer, endpoint));
  ASSERT_OK(Send(dealer, {"hello"}));
  EXPECT_EQ(RecvWithin(router, kDeadline), (std::vector<std::string>{"w", "hello"}));
  EXPECT_EQ(auth->accepted(), 1u);
  router.close();
  dealer.close();
  auth->Stop();
}

}  // namespace
}  // namespace btrq
