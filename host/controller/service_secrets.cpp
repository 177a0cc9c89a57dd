// ControllerService: secrets. A value comes in with SecretAdd and is never
// sent back: every answer is built from a redacted secret.
#include "host/common/grpc_status.h"
#include "host/controller/service.h"
#include "host/controller/service_support.h"

namespace ws::controller {
namespace v1 = workspace::v1;

namespace {

void ToProto(const SecretView& v, v1::SecretInfo* out) {
  out->set_name(v.secret.name);
  out->set_host(v.secret.host);
  out->set_header(v.secret.header);
  out->set_format(v.secret.format);
  out->set_env(v.secret.env);
  out->set_added(v.secret.added);
  for (const auto& w : v.bound_to) out->add_bound_to(w);
}

}  // namespace

grpc::Status ControllerService::SecretAdd(Ctx* ctx, const v1::SecretAddRequest* req,
                                          v1::SecretInfo* resp) {
  WS_IDENTIFY(ctx, caller);
  store::Secret s;
  s.name = req->name();
  s.host = req->host();
  s.header = req->header();
  s.format = req->format();
  s.env = req->env();
  s.value = req->value();
  if (Status st = workspaces_.AddSecret(caller, std::move(s)); !st.ok()) return ToGrpc(st);
  auto all = workspaces_.ListSecrets(caller);
  if (!all.ok()) return ToGrpc(all.status());
  for (const auto& v : all.value()) {
    if (v.secret.name == req->name()) ToProto(v, resp);
  }
  return grpc::Status::OK;
}

grpc::Status ControllerService::SecretList(Ctx* ctx, const v1::SecretListRequest*,
                                           v1::SecretListResponse* resp) {
  WS_IDENTIFY(ctx, caller);
  auto all = workspaces_.ListSecrets(caller);
  if (!all.ok()) return ToGrpc(all.status());
  for (const auto& v : all.value()) ToProto(v, resp->add_secrets());
  return grpc::Status::OK;
}

grpc::Status ControllerService::SecretRemove(Ctx* ctx, const v1::SecretRemoveRequest* req,
                                             v1::SecretRemoveResponse* resp) {
  WS_IDENTIFY(ctx, caller);
  auto unbound = workspaces_.RemoveSecret(caller, req->name());
  if (!unbound.ok()) return ToGrpc(unbound.status());
  for (const auto& w : unbound.value()) resp->add_unbound_from(w);
  return grpc::Status::OK;
}

grpc::Status ControllerService::SecretBind(Ctx* ctx, const v1::SecretBindRequest* req,
                                           v1::SecretBindResponse* resp) {
  WS_IDENTIFY(ctx, caller);
  auto bound =
      workspaces_.BindSecrets(caller, req->workspace(), {req->add().begin(), req->add().end()},
                              {req->remove().begin(), req->remove().end()});
  if (!bound.ok()) return ToGrpc(bound.status());
  for (const auto& b : bound.value()) {
    auto* out = resp->add_bindings();
    out->set_secret(b.secret);
    out->set_host(b.host);
    out->set_env(b.env);
  }
  return grpc::Status::OK;
}

}  // namespace ws::controller
