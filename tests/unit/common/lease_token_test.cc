#include "common/lease_token.h"

#include <sys/stat.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/file_util.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace btrq {
namespace {

using ::testing::HasSubstr;

TaskRef Ref(JobId job, int64_t start, uint32_t attempt) {
  TaskRef r;
  r.key.job = job;
  r.key.stream = Uuid::Parse("0f3c2e1a-0000-4000-8000-000000000001").value();
  r.key.start = start;
  r.attempt = attempt;
  return r;
}

TEST(LeaseToken, VerifiesOnlyTheLeaseItWasIssuedFor) {
  ASSERT_OK_AND_ASSIGN(LeaseSigner signer, LeaseSigner::Create("0123456789abcdef0123"));
  const TaskRef ref = Ref(7, 1000, 2);
  const std::string token = signer.Token(ref, "w1");
  EXPECT_EQ(token.size(), kLeaseTokenBytes);
  EXPECT_TRUE(signer.VerifyToken(ref, "w1", token));
  EXPECT_FALSE(signer.VerifyToken(Ref(8, 1000, 2), "w1", token));   // the next job's key
  EXPECT_FALSE(signer.VerifyToken(Ref(7, 2000, 2), "w1", token));   // another chunk
  EXPECT_FALSE(signer.VerifyToken(Ref(7, 1000, 3), "w1", token));   // another attempt
  EXPECT_FALSE(signer.VerifyToken(ref, "w2", token));               // another worker
  EXPECT_FALSE(signer.VerifyToken(ref, "w1", ""));                  // none at all
  EXPECT_FALSE(signer.VerifyToken(ref, "w1", token.substr(0, 15)));
  // A token is no receipt, and the other way round.
  EXPECT_FALSE(signer.VerifyReceipt(ref, "w1", token));
  EXPECT_TRUE(signer.VerifyReceipt(ref, "w1", signer.Receipt(ref, "w1")));
  EXPECT_FALSE(signer.VerifyToken(ref, "w1", signer.Receipt(ref, "w1")));
  // Another secret makes other tokens.
  ASSERT_OK_AND_ASSIGN(LeaseSigner other, LeaseSigner::Create("fedcba9876543210fedc"));
  EXPECT_FALSE(other.VerifyToken(ref, "w1", token));
}

TEST(LeaseToken, ShortSecretsAreRefused) {
  EXPECT_EQ(LeaseSigner::Create("short").status().code(), StatusCode::kInvalidArgument);
  EXPECT_OK(LeaseSigner::Create(std::string(kMinLeaseSecretBytes, 'x')).status());
}

TEST(LeaseToken, NewSecretFileIsPrivateAndReadsBack) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/btrq.lease";
  ASSERT_OK(WriteNewLeaseSecret(path, false));
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(WriteNewLeaseSecret(path, false).code(), StatusCode::kAlreadyExists);
  ASSERT_OK_AND_ASSIGN(LeaseSigner a, LeaseSigner::FromFile(path, "sink.lease_secret_file"));
  ASSERT_OK_AND_ASSIGN(LeaseSigner b, LeaseSigner::FromFile(path, "broker.lease_secret_file"));
  EXPECT_TRUE(b.VerifyToken(Ref(1, 0, 1), "w", a.Token(Ref(1, 0, 1), "w")));
  ASSERT_OK(WriteNewLeaseSecret(path, true));  // a new secret: old tokens no longer pass
  ASSERT_OK_AND_ASSIGN(LeaseSigner c, LeaseSigner::FromFile(path, "sink.lease_secret_file"));
  EXPECT_FALSE(c.VerifyToken(Ref(1, 0, 1), "w", a.Token(Ref(1, 0, 1), "w")));

  const Status missing = LeaseSigner::FromFile(dir.path() + "/nope", "sink.lease_secret_file")
                             .status();
  EXPECT_THAT(missing.message(), HasSubstr("sink.lease_secret_file"));
}

}  // namespace
}  // namespace btrq
