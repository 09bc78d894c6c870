#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "oci/auth.hpp"
#include "oci/http.hpp"
#include "oci/manifest.hpp"

namespace imgctl::oci {

/// How to reach registries (see docs/oci.md, "Registry settings").
struct RegistryOptions {
    std::set<std::string> insecure;  ///< host[:port] reached over plain HTTP (never by default)
    std::string auth_file;           ///< if set, the only auth file consulted
    HttpOptions http;
};

/// A manifest document as fetched.
struct FetchedManifest {
    std::string body;
    std::string content_type;
    std::string digest;  ///< "sha256:<hex>" of body (checked against the request and Docker-Content-Digest)
};

/// A client of one repository on one registry speaking the OCI distribution API (/v2/).
/// It authenticates on demand: on a 401 it reads the WWW-Authenticate challenge and either sends
/// Basic credentials or fetches a Bearer token from the realm (with credentials if any,
/// anonymously otherwise), then retries once. Credentials come from the auth files
/// (auth_file_candidates()). 5xx/429/connection errors are retried with exponential backoff;
/// an interrupted blob resumes with a Range request. Every byte is checked against its digest.
/// The blob and manifest methods are thread-safe (each call uses its own HTTP handle).
class RegistryClient {
public:
    RegistryClient(std::string host, std::string repository, RegistryOptions opts);

    /// GET /v2/<repo>/manifests/<tag or digest>.
    Result<FetchedManifest> get_manifest(std::string_view reference);
    /// Fetches a small blob (a config) into memory and verifies it.
    Result<std::string> get_blob(const Descriptor& d);
    /// Streams a blob into `fd` (an empty file opened read-write), resuming after interruptions,
    /// and verifies size and sha256. The file is only ever appended to: a response that starts
    /// again from byte 0 must repeat the bytes already in the file (compared; EBADMSG if not).
    /// `progress` gets +N once N more bytes are in the file (GrowingFile relies on both).
    Result<void> download_blob(const Descriptor& d, int fd, const std::function<void(int64_t)>& progress);

    std::string base_url() const;

private:
    Result<HttpResponse> authed_get(HttpClient& http, const std::string& url, std::vector<std::string> headers,
                                    const BodySink& sink = {});
    Result<HttpResponse> get_with_retries(HttpClient& http, const std::string& url,
                                          const std::vector<std::string>& headers);
    Result<void> authenticate(HttpClient& http, const Challenge& ch);
    Result<void> load_creds();
    Error auth_error(long status, const std::string& url);
    void backoff(int attempt, const HttpResponse* r) const;

    std::string host_;
    std::string repository_;
    RegistryOptions opts_;
    std::mutex mu_;  // guards the auth state below
    std::string auth_header_;
    bool creds_loaded_ = false;
    std::optional<Credentials> creds_;
};

/// Percent-encodes for a URL query value (RFC 3986 unreserved kept).
std::string url_escape(std::string_view s);

}  // namespace imgctl::oci
