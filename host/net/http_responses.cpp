#include "host/net/http_responses.h"

#include <http_parser.h>

#include <atomic>
#include <deque>

#include "host/common/mutex.h"

namespace ws::net {

struct HttpResponseWatcher::Impl {
  http_parser parser;
  http_parser_settings settings;
  const std::function<void(int)>* on_status = nullptr;
  Mutex mu;
  std::deque<bool> expected WS_GUARDED_BY(mu);  // per request not yet answered: HEAD?
  std::atomic<int> completed{0};
  std::atomic<bool> broken{false};

  Impl() {
    http_parser_init(&parser, HTTP_RESPONSE);
    parser.data = this;
    http_parser_settings_init(&settings);
    // Return values: 0 a body as framed, 1 no body, anything else an error.
    settings.on_headers_complete = [](http_parser* p) {
      auto* self = static_cast<Impl*>(p->data);
      const unsigned status = p->status_code;
      // No body, whatever a Content-Length says (RFC 9110 6.4.1).
      const bool bodiless = status < 200 || status == 204 || status == 304;
      if (status < 200) return 1;  // interim: its request waits on
      bool head = false;
      {
        MutexLock lock(self->mu);
        if (self->expected.empty()) return -1;  // an answer to no request: stop pairing
        head = self->expected.front();
      }
      if (*self->on_status) (*self->on_status)(static_cast<int>(status));
      return head || bodiless ? 1 : 0;
    };
    settings.on_message_complete = [](http_parser* p) {
      auto* self = static_cast<Impl*>(p->data);
      if (p->status_code < 200) return 0;
      {
        MutexLock lock(self->mu);
        self->expected.pop_front();  // one is there: on_headers_complete checked
      }
      ++self->completed;
      return 0;
    };
  }
};

HttpResponseWatcher::HttpResponseWatcher() : impl_(std::make_unique<Impl>()) {}
HttpResponseWatcher::~HttpResponseWatcher() = default;

void HttpResponseWatcher::Expect(bool head) {
  MutexLock lock(impl_->mu);
  impl_->expected.push_back(head);
}

void HttpResponseWatcher::Feed(std::string_view in,
                               const std::function<void(int status)>& on_status) {
  if (impl_->broken) return;
  impl_->on_status = &on_status;
  const size_t n = http_parser_execute(&impl_->parser, &impl_->settings, in.data(), in.size());
  impl_->on_status = nullptr;
  if (HTTP_PARSER_ERRNO(&impl_->parser) != HPE_OK || n != in.size()) impl_->broken = true;
}

int HttpResponseWatcher::completed() const { return impl_->completed; }
bool HttpResponseWatcher::broken() const { return impl_->broken; }

}  // namespace ws::net
