// Relay: serves a gRPC server over a virtio-serial port. A port is a
// character device, not a socket, so bytes are copied between the port and
// one end of a socketpair whose other end the gRPC server owns. When the host
// disconnects (POLLHUP on the port) the transport is dropped and a fresh one
// is started for the next host connection.
#pragma once

#include <string>

namespace grpc {
class Server;
}

namespace ws::agent {

// Never returns unless the port cannot be opened (then logs and returns).
void ServeOnPort(grpc::Server* server, const std::string& port_path);

// Tests and development: accepts connections on a unix socket and hands each
// one to the server. Never returns unless listening fails.
void ServeOnUnixSocket(grpc::Server* server, const std::string& socket_path);

}  // namespace ws::agent
