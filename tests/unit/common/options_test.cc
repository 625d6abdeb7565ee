// The btrq schema (common/options.h): LoadConfig's defaults, sources and their order,
// cross-field rules, rendering with secrets redacted, ResolveSecret and BTrDB's TLS mode.

#include "common/options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "common/time_util.h"
#include "tests/support/status_matchers.h"

namespace btrq {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class LoadConfigTest : public ::testing::Test {
 protected:
  // Writes `yaml` to a file named after the running test; returns its path.
  std::string WriteFile(const std::string& yaml) {
    const std::string path = ::testing::TempDir() + "/btrq_config_test_" +
                             ::testing::UnitTest::GetInstance()->current_test_info()->name() +
                             ".yaml";
    std::ofstream(path) << yaml;
    return path;
  }

  const Env no_env_ = Env::FromMap({});
};

TEST_F(LoadConfigTest, DefaultsMatchTheDocumentedSchema) {
  BtrqConfig c;
  ASSERT_OK(LoadConfig("", no_env_, {}, &c));
  EXPECT_EQ(c.log.level, LogLevel::kInfo);
  EXPECT_EQ(c.log.format, LogFormat::kText);
  EXPECT_EQ(c.btrdb.endpoints, "127.0.0.1:4410");
  EXPECT_EQ(c.btrdb.tls, TlsMode::kAuto);
  EXPECT_EQ(c.btrdb.call_timeout, 30 * kNanosPerSecond);
  EXPECT_EQ(c.broker.control_listen, "127.0.0.1:7400");
  EXPECT_EQ(c.broker.tasks_listen, "tcp://127.0.0.1:7401");
  EXPECT_EQ(c.broker.http_listen, "127.0.0.1:7402");
  EXPECT_EQ(c.broker.data_dir, "var/broker");
  EXPECT_EQ(c.broker.heartbeat_interval, kNanosPerSecond);
  EXPECT_EQ(c.broker.liveness, 5u);
  EXPECT_EQ(c.broker.task_timeout, 5 * kNanosPerMinute);
  EXPECT_EQ(c.broker.max_attempts, 3u);
  EXPECT_EQ(c.broker.retry_backoff, kNanosPerSecond);
  EXPECT_EQ(c.broker.retry_backoff_max, kNanosPerMinute);
  EXPECT_EQ(c.broker.window, 4096u);
  EXPECT_EQ(c.broker.max_message_bytes, 16777216);
  EXPECT_EQ(c.broker.journal_sync, 2 * kNanosPerMilli);
  EXPECT_EQ(c.sink.listen, "tcp://127.0.0.1:7411");
  EXPECT_EQ(c.sink.control_listen, "127.0.0.1:7410");
  EXPECT_EQ(c.sink.http_listen, "127.0.0.1:7412");
  EXPECT_EQ(c.sink.data_dir, "var/sink");
  EXPECT_EQ(c.sink.commit_interval, 2 * kNanosPerMilli);
  EXPECT_EQ(c.sink.commit_max_batch, 4096u);
  EXPECT_EQ(c.sink.max_message_bytes, 16777216);
  EXPECT_EQ(c.worker.broker, "tcp://127.0.0.1:7401");
  EXPECT_EQ(c.worker.sink, "tcp://127.0.0.1:7411");
  EXPECT_EQ(c.worker.threads, 0u);
  EXPECT_EQ(c.worker.credit, 0u);
  EXPECT_EQ(c.worker.max_unacked_results, 4096u);
  EXPECT_EQ(c.worker.heartbeat_interval, kNanosPerSecond);
  EXPECT_EQ(c.worker.http_listen, "");
  EXPECT_EQ(c.worker.batch_results, 64u);
  EXPECT_FALSE(c.curve.enabled);
  EXPECT_EQ(c.control.broker, "127.0.0.1:7400");
  EXPECT_EQ(c.control.sink, "127.0.0.1:7410");
}

TEST_F(LoadConfigTest, FlagsBeatEnvironmentWhichBeatsTheFile) {
  const std::string path = WriteFile(
      "broker:\n"
      "  heartbeat_interval: 3s\n"
      "  liveness: 7\n"
      "  window: 10\n");
  const Env env = Env::FromMap({{"BTRQ_BROKER_HEARTBEAT_INTERVAL", "4s"},
                                {"BTRQ_BROKER_LIVENESS", "8"}});
  BtrqConfig c;
  std::string rendered;
  ASSERT_OK(LoadConfig(path, env, {"broker.heartbeat_interval=5s"}, &c, &rendered));
  EXPECT_EQ(c.broker.heartbeat_interval, 5 * kNanosPerSecond);  // flag
  EXPECT_EQ(c.broker.liveness, 8u);                             // environment
  EXPECT_EQ(c.broker.window, 10u);                              // file
  EXPECT_EQ(c.broker.max_attempts, 3u);                         // default
  EXPECT_THAT(rendered, HasSubstr("heartbeat_interval: 5s  # from flag --set "
                                  "broker.heartbeat_interval\n"));
  EXPECT_THAT(rendered, HasSubstr("liveness: 8  # from environment variable BTRQ_BROKER_LIVENESS"));
  EXPECT_THAT(rendered, HasSubstr("window: 10  # from " + path + ":4\n"));
  EXPECT_THAT(rendered, HasSubstr("max_attempts: 3\n"));
}

TEST_F(LoadConfigTest, CliAddressVariablesAreNotMisspeltKeys) {
  // BTRQ_BROKER and BTRQ_SINK are the CLI's addresses; a daemon started from the same
  // shell must not take them for misspelt options of its broker/sink sections.
  const Env env = Env::FromMap({{"BTRQ_BROKER", "10.0.0.1:7400"}, {"BTRQ_SINK", "10.0.0.1:7410"}});
  BtrqConfig c;
  ASSERT_OK(LoadConfig("", env, {}, &c));
  EXPECT_EQ(c.control.broker, "127.0.0.1:7400");
}

TEST_F(LoadConfigTest, LaterFlagsWinAndDedicatedFlagsNameThemselves) {
  BtrqConfig c;
  ASSERT_OK(LoadConfig("", no_env_, {"worker.threads=2", "worker.threads=6"}, &c));
  EXPECT_EQ(c.worker.threads, 6u);

  const Status s = LoadConfigWithOverrides(
      "", no_env_, {{"worker.threads", "eight", "flag --threads"}}, &c);
  EXPECT_EQ(s.message(),
            "flag --threads: worker.threads: expected an unsigned 32-bit integer (0..4294967295), "
            "got \"eight\"");
}

TEST_F(LoadConfigTest, PythonClientVariablesApplyAndBtrqVariablesWinOverThem) {
  BtrqConfig c;
  ASSERT_OK(LoadConfig("", Env::FromMap({{"BTRDB_ENDPOINTS", "db1:4411,db2:4411"},
                                         {"BTRDB_API_KEY", "k3y"}}),
                       {}, &c));
  EXPECT_EQ(c.btrdb.endpoints, "db1:4411,db2:4411");
  EXPECT_EQ(c.btrdb.api_key, "k3y");
  EXPECT_TRUE(BtrdbUsesTls(c.btrdb));

  ASSERT_OK(LoadConfig("", Env::FromMap({{"BTRDB_ENDPOINTS", "db1:4410"},
                                         {"BTRQ_BTRDB_ENDPOINTS", "db9:4410"}}),
                       {}, &c));
  EXPECT_EQ(c.btrdb.endpoints, "db9:4410");

  ASSERT_OK(LoadConfig("", Env::FromMap({{"BTRDB_API_KEY", "k3y"}}), {"btrdb.api_key=flagkey"},
                       &c));
  EXPECT_EQ(c.btrdb.api_key, "flagkey");
}

TEST_F(LoadConfigTest, ProcessEnvironmentIsReadThroughTheSameSeam) {
  // Reads whatever the test runner has; only checks the seam answers consistently.
  const Env env = Env::Process();
  for (const std::string& name : env.Names()) {
    EXPECT_TRUE(env.Get(name).has_value()) << name;
    break;
  }
  EXPECT_FALSE(env.Get("BTRQ_SURELY_NOT_SET_BY_ANYONE_12345").has_value());
  const Env fn = Env::FromFunction([](const std::string& name) -> std::optional<std::string> {
    if (name == "BTRQ_WORKER_THREADS") return "3";
    return std::nullopt;
  });
  BtrqConfig c;
  ASSERT_OK(LoadConfig("", fn, {}, &c));
  EXPECT_EQ(c.worker.threads, 3u);
}

TEST_F(LoadConfigTest, ErrorsFromEachStageNameTheirSource) {
  const std::string path = WriteFile(
      "# btrq\n"
      "broker:\n"
      "  data_dir: /tmp/x\n"
      "  heartbeat_interval: 5x\n");
  BtrqConfig c;
  EXPECT_EQ(LoadConfig(path, no_env_, {}, &c).message(),
            path + ":4: broker.heartbeat_interval: bad duration \"5x\": unknown unit \"x\" "
                   "(expected ns, us, ms, s, m, h, d or w)");
  EXPECT_EQ(LoadConfig("", Env::FromMap({{"BTRQ_LOG_LEVEL", "verbose"}}), {}, &c).message(),
            "environment variable BTRQ_LOG_LEVEL: log.level: bad value \"verbose\" (expected one "
            "of: trace, debug, info, warn, error)");
  EXPECT_EQ(LoadConfig("", no_env_, {"btrdb.tls=maybe"}, &c).message(),
            "flag --set btrdb.tls: btrdb.tls: bad value \"maybe\" (expected one of: auto, on, "
            "off)");
  EXPECT_EQ(LoadConfig("", no_env_, {"broker.heartbeat_intervl=1s"}, &c).message(),
            "flag --set broker.heartbeat_intervl: unknown key \"broker.heartbeat_intervl\" (did "
            "you mean \"heartbeat_interval\"?)");
  EXPECT_EQ(LoadConfig("", no_env_, {"broker"}, &c).code(), StatusCode::kInvalidArgument);
}

TEST_F(LoadConfigTest, CrossFieldRulesNameWhereTheOffendingValueCameFrom) {
  struct Case {
    std::string yaml;
    std::string message;  // after "<path>:"
  };
  const Case cases[] = {
      {"broker:\n  liveness: 0\n", "2: broker.liveness: must be at least 1"},
      {"broker:\n  heartbeat_interval: 0\n",
       "2: broker.heartbeat_interval: must be greater than zero"},
      {"broker:\n  retry_backoff: 2m\n  retry_backoff_max: 1m\n",
       "3: broker.retry_backoff_max: must be at least broker.retry_backoff"},
      {"broker:\n  tls_key: k.pem\n",
       "2: broker.tls_key: needs broker.tls_cert and broker.tls_key as well"},
      {"btrdb:\n  endpoints: \" , \"\n", "2: btrdb.endpoints: at least one host:port is needed"},
      {"\ncurve:\n  enabled: true\n  public_key: abc\n",
       "3: curve.enabled: true requires curve.secret_key or curve.secret_key_file"},
      {"curve:\n  enabled: true\n",
       "2: curve.enabled: true requires curve.secret_key or curve.secret_key_file"},
      {"worker:\n  batch_results: 0\n", "2: worker.batch_results: must be at least 1"},
  };
  for (const Case& c : cases) {
    const std::string path = WriteFile(c.yaml);
    BtrqConfig config;
    const Status s = LoadConfig(path, no_env_, {}, &config);
    EXPECT_EQ(s.message(), path + ":" + c.message) << c.yaml;
  }
  BtrqConfig config;
  EXPECT_EQ(LoadConfig("", Env::FromMap({{"BTRQ_SINK_COMMIT_MAX_BATCH", "0"}}), {}, &config)
                .message(),
            "environment variable BTRQ_SINK_COMMIT_MAX_BATCH: sink.commit_max_batch: must be at "
            "least 1");
}

TEST_F(LoadConfigTest, PrintedConfigRedactsEverySecret) {
  const std::string path = WriteFile(
      "btrdb:\n  api_key: file-api-key\n"
      "curve:\n  enabled: true\n  public_key: pub\n  secret_key: curve-secret\n");
  const Env env = Env::FromMap({{"BTRQ_BROKER_CONTROL_TOKEN", "env-broker-token"},
                                {"BTRQ_SINK_CONTROL_TOKEN", "env-sink-token"}});
  BtrqConfig c;
  std::string rendered;
  ASSERT_OK(LoadConfig(path, env, {"control.token=flag-token"}, &c, &rendered));
  EXPECT_EQ(c.control.token, "flag-token");
  for (const std::string& text : {rendered, RenderConfig(c), RenderConfig(c, false)}) {
    for (const char* secret :
         {"file-api-key", "curve-secret", "env-broker-token", "env-sink-token", "flag-token"}) {
      EXPECT_THAT(text, Not(HasSubstr(secret)));
    }
    EXPECT_THAT(text, HasSubstr("api_key: \"<redacted>\""));
    EXPECT_THAT(text, HasSubstr("secret_key: \"<redacted>\""));
    EXPECT_THAT(text, HasSubstr("token: \"<redacted>\""));
    EXPECT_THAT(text, HasSubstr("public_key: \"pub\""));
  }
  EXPECT_THAT(rendered, HasSubstr("token: \"<redacted>\"  # from flag --set control.token\n"));
  // Unset secrets stay visibly empty.
  EXPECT_THAT(RenderConfig(BtrqConfig()), HasSubstr("api_key: \"\"\n"));
}

TEST_F(LoadConfigTest, RenderedDefaultsLoadBackUnchanged) {
  const std::string path = WriteFile(RenderConfig(BtrqConfig()));
  BtrqConfig c;
  std::string rendered;
  ASSERT_OK(LoadConfig(path, no_env_, {}, &c, &rendered));
  EXPECT_EQ(RenderConfig(c), RenderConfig(BtrqConfig()));
}

// What a local cluster (cluster/) and `btrq demo` write: a config built in code, rendered,
// then loaded by each process.
TEST_F(LoadConfigTest, RenderedConfigLoadsBackTheSame) {
  BtrqConfig c;
  c.log.level = LogLevel::kWarn;
  c.log.format = LogFormat::kJson;
  c.btrdb.endpoints = "127.0.0.1:1, 127.0.0.1:2";
  c.btrdb.tls = TlsMode::kOff;
  c.btrdb.call_timeout = 1'500'000'000;
  c.broker.control_listen = "127.0.0.1:17400";
  c.broker.tasks_listen = "tcp://127.0.0.2:0;127.0.0.1:17401";
  c.broker.data_dir = "/tmp/a dir/with \"quotes\"";
  c.broker.liveness = 9;
  c.broker.retry_backoff = 50'000'000;
  c.broker.retry_backoff_max = 200'000'000;
  c.sink.commit_max_batch = 17;
  c.worker.threads = 3;
  c.worker.http_listen = "127.0.0.1:0";
  c.curve.authorized_keys_file = "/etc/btrq/keys";
  c.control.token_file = "/etc/btrq/token";
  c.control.tls = true;
  for (bool docs : {true, false}) {
    const std::string path = WriteFile(RenderConfig(c, docs));
    BtrqConfig loaded;
    ASSERT_OK(LoadConfig(path, no_env_, {}, &loaded));
    EXPECT_EQ(RenderConfig(loaded), RenderConfig(c));
    EXPECT_EQ(loaded.broker.data_dir, c.broker.data_dir);
    EXPECT_EQ(loaded.broker.tasks_listen, c.broker.tasks_listen);
    EXPECT_EQ(loaded.btrdb.call_timeout, c.btrdb.call_timeout);
    EXPECT_EQ(loaded.log.format, LogFormat::kJson);
    EXPECT_TRUE(loaded.control.tls);
  }
}

TEST(ResolveSecret, ValueThenFileThenEmpty) {
  const std::string path = ::testing::TempDir() + "/btrq_config_test_secret.txt";
  std::ofstream(path) << "from-file\n\n";
  ASSERT_OK_AND_ASSIGN(std::string v, ResolveSecret("inline", path, "btrdb.api_key_file"));
  EXPECT_EQ(v, "inline");
  ASSERT_OK_AND_ASSIGN(v, ResolveSecret("", path, "btrdb.api_key_file"));
  EXPECT_EQ(v, "from-file");
  ASSERT_OK_AND_ASSIGN(v, ResolveSecret("", "", "btrdb.api_key_file"));
  EXPECT_EQ(v, "");
  const Result<std::string> missing = ResolveSecret("", path + ".none", "btrdb.api_key_file");
  EXPECT_EQ(missing.status().message(),
            "btrdb.api_key_file: cannot read " + path + ".none: No such file or directory");
  std::ofstream(path) << "\n";
  EXPECT_THAT(ResolveSecret("", path, "x").status().message(), HasSubstr("is empty"));
}

TEST(BtrdbUsesTls, AutoMeansPort4411) {
  BtrdbOptions o;
  EXPECT_FALSE(BtrdbUsesTls(o));
  o.endpoints = "db1:4410, db2:4411";
  EXPECT_TRUE(BtrdbUsesTls(o));
  o.tls = TlsMode::kOff;
  EXPECT_FALSE(BtrdbUsesTls(o));
  o.endpoints = "db1:4410";
  o.tls = TlsMode::kOn;
  EXPECT_TRUE(BtrdbUsesTls(o));
  EXPECT_EQ(SplitEndpoints(" a:1 ,b:2,, "), (std::vector<std::string>{"a:1", "b:2"}));
}

}  // namespace
}  // namespace btrq
