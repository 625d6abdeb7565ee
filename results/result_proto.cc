#include "results/result_proto.h"

#include "btrq/v1/control.pb.h"

namespace btrq::results {

void ToProto(const StoredResult& stored, v1::Result* out) {
  const TaskResult& r = stored.result;
  v1::TaskKey* key = out->mutable_key();
  key->set_job(r.task.key.job);
  key->set_stream(std::string(r.task.key.stream.AsBytes()));
  key->set_start(r.task.key.start);
  key->set_nonce(r.task.key.nonce);
  out->set_end(r.end);
  out->set_version(r.version);
  out->set_attempt(r.task.attempt);
  out->set_worker_id(r.worker_id);
  out->mutable_fields()->Reserve(static_cast<int>(r.fields.size()));
  for (const auto& [name, value] : r.fields) {
    v1::Field* f = out->add_fields();
    f->set_name(name);
    v1::Value* v = f->mutable_value();
    if (const auto* i = std::get_if<int64_t>(&value)) {
      v->set_int_value(*i);
    } else if (const auto* d = std::get_if<double>(&value)) {
      v->set_double_value(*d);
    } else {
      v->set_string_value(std::get<std::string>(value));
    }
  }
  out->set_duration_ns(r.duration_ns);
  out->set_points_read(r.points_read);
  out->set_stored_at(stored.stored_at);
}

btrq::Result<StoredResult> ResultFromProto(const v1::Result& proto) {
  StoredResult stored;
  TaskResult& r = stored.result;
  BTRQ_ASSIGN_OR_RETURN(r.task.key.stream, Uuid::FromBytes(proto.key().stream()));
  r.task.key.job = proto.key().job();
  r.task.key.start = proto.key().start();
  r.task.key.nonce = proto.key().nonce();
  r.task.attempt = proto.attempt();
  r.end = proto.end();
  r.version = proto.version();
  r.worker_id = proto.worker_id();
  r.fields.reserve(static_cast<size_t>(proto.fields_size()));
  for (const v1::Field& f : proto.fields()) {
    switch (f.value().kind_case()) {
      case v1::Value::kIntValue:
        r.fields.emplace_back(f.name(), f.value().int_value());
        break;
      case v1::Value::kDoubleValue:
        r.fields.emplace_back(f.name(), f.value().double_value());
        break;
      case v1::Value::kStringValue:
        r.fields.emplace_back(f.name(), f.value().string_value());
        break;
      case v1::Value::KIND_NOT_SET:
        return Status::InvalidArgument("result field '" + f.name() + "' has no value");
    }
  }
  r.duration_ns = proto.duration_ns();
  r.points_read = proto.points_read();
  stored.stored_at = proto.stored_at();
  return stored;
}

}  // namespace btrq::results
