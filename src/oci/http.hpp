#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace imgctl::oci {

/// Timeouts and retry policy of HTTP requests (defaults suit real registries; tests shorten them).
struct HttpOptions {
    long connect_timeout_s = 30;
    long stall_timeout_s = 60;  ///< abort a transfer when no byte arrives for this long
    int retries = 4;            ///< extra attempts after 5xx, 429 and connection errors
    long backoff_ms = 500;      ///< first wait; doubles each attempt
    std::string ca_file;        ///< extra trust: a PEM bundle used instead of the system CAs
};

/// One HTTP response. `headers` has lower-cased names (of the final response after redirects).
struct HttpResponse {
    long status = 0;
    std::map<std::string, std::string> headers;
    std::string body;           ///< collected unless a body sink was given
    std::string effective_url;
};

/// Receives the body bytes of a 2xx response with the response's status and headers (complete
/// by then: so a 200 or a wrong Content-Range answering a Range request can be told apart);
/// returning false aborts the transfer (the caller keeps its reason).
using BodySink = std::function<bool(const HttpResponse& resp, std::span<const std::byte>)>;

/// One libcurl easy handle (the only libcurl user is this module). Not thread-safe: one per thread.
/// Follows redirects (http/https only, at most 10; credentials are not sent to another host),
/// verifies TLS peers, and fails on connection errors with the curl message and URL.
class HttpClient {
public:
    explicit HttpClient(HttpOptions opts = {});
    ~HttpClient();
    HttpClient(const HttpClient&) = delete;
    HttpClient& operator=(const HttpClient&) = delete;

    /// A GET. `headers` are "Name: value" lines. With `sink`, the body of a 2xx response goes
    /// there (other statuses are collected into body, up to `max_body` bytes).
    /// A transport failure is an Error whose code is EAGAIN when a retry may help.
    Result<HttpResponse> get(const std::string& url, const std::vector<std::string>& headers,
                             const BodySink& sink = {}, size_t max_body = 4 << 20);
    /// A POST of an application/x-www-form-urlencoded `form` (the OAuth2 token request).
    Result<HttpResponse> post_form(const std::string& url, const std::string& form,
                                   const std::vector<std::string>& headers);
    const HttpOptions& options() const { return opts_; }

private:
    Result<HttpResponse> request(const std::string& url, const std::vector<std::string>& headers,
                                 const std::string* form, const BodySink& sink, size_t max_body);
    HttpOptions opts_;
    void* curl_;
};

/// True for statuses worth retrying: 408, 429, 5xx.
bool is_retryable_status(long status);

}  // namespace imgctl::oci
