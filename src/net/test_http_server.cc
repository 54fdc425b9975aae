#include "net/test_http_server.h"

namespace tandem::net {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

TestHttpServer::TestHttpServer(Handler handler, bool never_answer)
    : acceptor_(ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
      handler_(std::move(handler)),
      never_answer_(never_answer) {
  port_ = acceptor_.local_endpoint().port();
  thread_ = std::thread([this] {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket(ioc_);
      acceptor_.accept(socket, ec);
      if (ec || stopping_) return;
      Serve(std::move(socket));
    }
  });
}

TestHttpServer::~TestHttpServer() {
  stopping_ = true;
  boost::system::error_code ec;
  // Wake the blocking accept() with one last connection; the loop then sees stopping_.
  tcp::socket s(ioc_);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ec);
  thread_.join();
  acceptor_.close(ec);
}

void TestHttpServer::Serve(tcp::socket socket) {
  boost::beast::flat_buffer buffer;
  Request req;
  boost::system::error_code ec;
  http::read(socket, buffer, req, ec);
  if (ec) return;
  {
    std::lock_guard lock(mu_);
    requests_.push_back(req);
  }
  if (never_answer_) {
    std::lock_guard lock(mu_);
    held_.push_back(std::move(socket));  // keep it open, silent
    return;
  }
  Response res = handler_(req);
  res.version(11);
  res.keep_alive(false);
  res.prepare_payload();
  http::write(socket, res, ec);
  socket.shutdown(tcp::socket::shutdown_both, ec);
}

std::vector<TestHttpServer::Request> TestHttpServer::requests() {
  std::lock_guard lock(mu_);
  return requests_;
}

}  // namespace tandem::net
