#pragma once
// A plain HTTP connection: reads requests (Beast), answers them through the FrontDoor's routes,
// and hands a WebSocket upgrade, once the FrontDoor admits or refuses it, to a WsSession on the
// room's strand. Owned by its pending operations (shared_ptr).

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <memory>
#include <optional>

#include "server/front_door.h"

namespace tandem::server {

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(boost::beast::tcp_stream&& stream, FrontDoor& front_door);
  void Run();

 private:
  void DoRead();
  void OnHeader(boost::beast::error_code ec, size_t bytes);
  void OnRead(boost::beast::error_code ec, size_t bytes);
  void Write(HttpResponse response, bool keep_alive);
  // An error answer, then the connection is closed.
  void RespondAndClose(boost::beast::http::status status, const std::string& message,
                       std::string_view code = {});
  // Reports a read error (a malformed request, a limit passed) and closes; false: no error.
  bool HandledReadError(const boost::beast::error_code& ec);
  void StartWebSocket(const HttpRequest& request, UpgradeDecision decision);

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  FrontDoor& front_door_;
};

}  // namespace tandem::server
