#pragma once
// A tiny HTTP server for tests on 127.0.0.1 (ephemeral port): records requests and answers
// with a handler; can also accept and never answer (to test timeouts).

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace tandem::net {

class TestHttpServer {
 public:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;
  using Response = boost::beast::http::response<boost::beast::http::string_body>;
  using Handler = std::function<Response(const Request&)>;

  explicit TestHttpServer(Handler handler, bool never_answer = false);
  ~TestHttpServer();
  uint16_t port() const { return port_; }
  std::vector<Request> requests();

 private:
  void Serve(boost::asio::ip::tcp::socket socket);
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  Handler handler_;
  bool never_answer_;
  std::atomic<bool> stopping_{false};
  uint16_t port_ = 0;
  std::mutex mu_;
  std::vector<Request> requests_;
  std::vector<boost::asio::ip::tcp::socket> held_;
  std::thread thread_;
};

}  // namespace tandem::net
