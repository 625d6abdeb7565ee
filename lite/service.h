#pragma once

// The BTrDB v5 gRPC service over a Database: the 20 core RPCs, errors in-band in
// Status.code with gRPC OK, streaming replies chunked (5000 points or windows, 1000
// ranges, descriptors or collections per message) and always at least one message.
//
// Fault injection (only with enable_fault_inject; otherwise 424):
//   type 1, params = decimal N: the next N data/metadata calls answer 402 (ContextError).
//   type 2, params = decimal milliseconds: every later call is delayed that long (0 = off).
//   type 0: clears both.

#include <atomic>
#include <string>

#include "lite/database.h"
#include "btrdb/v5/btrdb.grpc.pb.h"
#include "common/mutex.h"

namespace btrq::lite {

struct ServiceOptions {
  bool enable_fault_inject = false;
  bool enable_obliterate = true;
  // Reported by Info as proxy.proxyEndpoints; the listening address when empty.
  std::string advertised_address;
};

inline constexpr char kLiteVersion[] = "0.1.0";

class BtrdbService final : public v5api::BTrDB::Service {
 public:
  BtrdbService(Database* db, ServiceOptions options);

  // The address Info reports when no advertised address is set.
  void set_listen_address(std::string address) BTRQ_EXCLUDES(mu_);

  grpc::Status RawValues(grpc::ServerContext* ctx, const v5api::RawValuesParams* req,
                         grpc::ServerWriter<v5api::RawValuesResponse>* writer) override;
  grpc::Status AlignedWindows(grpc::ServerContext* ctx, const v5api::AlignedWindowsParams* req,
                              grpc::ServerWriter<v5api::AlignedWindowsResponse>* writer) override;
  grpc::Status Windows(grpc::ServerContext* ctx, const v5api::WindowsParams* req,
                       grpc::ServerWriter<v5api::WindowsResponse>* writer) override;
  grpc::Status StreamInfo(grpc::ServerContext* ctx, const v5api::StreamInfoParams* req,
                          v5api::StreamInfoResponse* resp) override;
  grpc::Status SetStreamAnnotations(grpc::ServerContext* ctx, const v5api::SetStreamAnnotationsParams* req,
                                    v5api::SetStreamAnnotationsResponse* resp) override;
  grpc::Status SetStreamTags(grpc::ServerContext* ctx, const v5api::SetStreamTagsParams* req,
                             v5api::SetStreamTagsResponse* resp) override;
  grpc::Status Create(grpc::ServerContext* ctx, const v5api::CreateParams* req,
                      v5api::CreateResponse* resp) override;
  grpc::Status ListCollections(grpc::ServerContext* ctx, const v5api::ListCollectionsParams* req,
                               grpc::ServerWriter<v5api::ListCollectionsResponse>* writer) override;
  grpc::Status LookupStreams(grpc::ServerContext* ctx, const v5api::LookupStreamsParams* req,
                             grpc::ServerWriter<v5api::LookupStreamsResponse>* writer) override;
  grpc::Status Nearest(grpc::ServerContext* ctx, const v5api::NearestParams* req,
                       v5api::NearestResponse* resp) override;
  grpc::Status Changes(grpc::ServerContext* ctx, const v5api::ChangesParams* req,
                       grpc::ServerWriter<v5api::ChangesResponse>* writer) override;
  grpc::Status Insert(grpc::ServerContext* ctx, const v5api::InsertParams* req,
                      v5api::InsertResponse* resp) override;
  grpc::Status Delete(grpc::ServerContext* ctx, const v5api::DeleteParams* req,
                      v5api::DeleteResponse* resp) override;
  grpc::Status Info(grpc::ServerContext* ctx, const v5api::InfoParams* req, v5api::InfoResponse* resp) override;
  grpc::Status FaultInject(grpc::ServerContext* ctx, const v5api::FaultInjectParams* req,
                           v5api::FaultInjectResponse* resp) override;
  grpc::Status Flush(grpc::ServerContext* ctx, const v5api::FlushParams* req, v5api::FlushResponse* resp) override;
  grpc::Status Obliterate(grpc::ServerContext* ctx, const v5api::ObliterateParams* req,
                          v5api::ObliterateResponse* resp) override;
  grpc::Status GetMetadataUsage(grpc::ServerContext* ctx, const v5api::MetadataUsageParams* req,
                                v5api::MetadataUsageResponse* resp) override;
  grpc::Status GenerateCSV(grpc::ServerContext* ctx, const v5api::GenerateCSVParams* req,
                           grpc::ServerWriter<v5api::GenerateCSVResponse>* writer) override;
  grpc::Status SQLQuery(grpc::ServerContext* ctx, const v5api::SQLQueryParams* req,
                        grpc::ServerWriter<v5api::SQLQueryResponse>* writer) override;

 private:
  // Applies injected faults: returns non-OK when this call must fail.
  Status Faults();

  Database* const db_;
  const ServiceOptions options_;
  mutable Mutex mu_;
  std::string listen_address_ BTRQ_GUARDED_BY(mu_);
  std::atomic<int64_t> fail_next_{0};
  std::atomic<int64_t> delay_ms_{0};
};

}  // namespace btrq::lite
