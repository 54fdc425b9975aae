#pragma once
// A plain HTTP connection: health, readiness and metrics endpoints, and the WebSocket upgrade
// (room id, connection limits, auth) that hands the socket over to a WsSession.

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <memory>
#include <optional>

namespace tandem::server {

class Server;

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(boost::beast::tcp_stream&& stream, Server& server);
  void Run();

 private:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;
  void DoRead();
  void OnRead(boost::beast::error_code ec, size_t bytes);
  void HandleHttp(Request req);
  void HandleUpgrade(Request req);
  // An error answer, then the connection is closed.
  void RespondAndClose(boost::beast::http::status status, std::string message);
  void StartWebSocket(Request req, std::string room_id, uint16_t refuse_code, std::string reason,
                      bool read_only, std::string user_id);

  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  Server& server_;
};

// Splits a request target into path and the value of the `token` query parameter.
struct ParsedTarget {
  std::string path;
  std::string token;
};
ParsedTarget ParseTarget(std::string_view target);
// The encoded room id in "/{room}" or "/parties/{party}/{room}"; empty if the path fits neither.
std::string_view RoomFromPath(std::string_view path);

}  // namespace tandem::server
