// HttpResponseWatcher: the server's side of an intercepted connection, read
// and never changed, to learn each answer's status and where it ends — one
// answer per request passed on, in order (HTTP/1.1 has no other way to pair
// them). An answer to HEAD, a 204 and a 304 have no body (whatever their
// Content-Length says); 1xx answers are interim. Once the bytes cannot be
// read as HTTP/1.1 answers, or an answer comes to no request, the watcher
// stops (broken()) and its owner stops relying on it; the bytes go on
// regardless.
#pragma once

#include <functional>
#include <memory>
#include <string_view>

namespace ws::net {

class HttpResponseWatcher {
 public:
  HttpResponseWatcher();
  ~HttpResponseWatcher();
  HttpResponseWatcher(const HttpResponseWatcher&) = delete;
  HttpResponseWatcher& operator=(const HttpResponseWatcher&) = delete;

  // A request was passed on (in order); `head`: its method was HEAD.
  // Thread-safe against Feed.
  void Expect(bool head);
  // The server's next bytes; `on_status` gets each final answer's status as
  // its head is read. EOF: Feed({}) once (ends a body that runs to close).
  void Feed(std::string_view in, const std::function<void(int status)>& on_status);
  int completed() const;  // answers read to their end
  bool broken() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ws::net
