// SPDX-License-Identifier: Apache-2.0
// Writing a Config back out as the YAML that parseConfig() reads (for `lanyard config check`).
#include <cstdio>
#include <string>

#include <yaml-cpp/yaml.h>

#include "daemon/config.h"
#include "daemon/duration.h"
#include "svid/key.h"

namespace lanyard::daemon {
namespace {

void writeAuthority(YAML::Emitter& out, const svid::AuthorityConfig& a) {
  out << YAML::Key << "authority" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "upstream" << YAML::Value << svid::upstreamModeName(a.upstream);
  out << YAML::Key << "ca_ttl" << YAML::Value << formatDuration(a.caTtl);
  out << YAML::Key << "ca_key_type" << YAML::Value << svid::keyTypeName(a.caKeyType);
  out << YAML::Key << "jwt_key_type" << YAML::Value << svid::keyTypeName(a.jwtKeyType);
  if (a.upstream == svid::UpstreamMode::Disk) {
    out << YAML::Key << "disk" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "cert_file" << YAML::Value << a.upstreamCertFile;
    out << YAML::Key << "key_file" << YAML::Value << a.upstreamKeyFile;
    if (!a.upstreamBundleFile.empty()) {
      out << YAML::Key << "bundle_file" << YAML::Value << a.upstreamBundleFile;
    }
    out << YAML::EndMap;
  }
  if (a.upstream == svid::UpstreamMode::Tpm) {
    out << YAML::Key << "tpm" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "tcti" << YAML::Value << a.tpmTcti;
    out << YAML::Key << "issuing_ttl" << YAML::Value << formatDuration(a.issuingTtl);
    if (!a.tpmCertFile.empty()) {
      out << YAML::Key << "cert_file" << YAML::Value << a.tpmCertFile;
    }
    if (!a.tpmBundleFile.empty()) {
      out << YAML::Key << "bundle_file" << YAML::Value << a.tpmBundleFile;
    }
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
}

void writeEntry(YAML::Emitter& out, const RegistrationEntry& e) {
  out << YAML::BeginMap;
  out << YAML::Key << "spiffe_id" << YAML::Value << e.spiffeIdTemplate;
  out << YAML::Key << "selectors" << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (const EntrySelector& s : e.selectors) {
    out << s.str();
  }
  out << YAML::EndSeq;
  if (e.x509SvidTtl) {
    out << YAML::Key << "x509_svid_ttl" << YAML::Value << formatDuration(*e.x509SvidTtl);
  }
  if (e.jwtSvidTtl) {
    out << YAML::Key << "jwt_svid_ttl" << YAML::Value << formatDuration(*e.jwtSvidTtl);
  }
  if (!e.dnsNames.empty()) {
    out << YAML::Key << "dns_names" << YAML::Value << YAML::Flow << e.dnsNames;
  }
  if (!e.hint.empty()) {
    out << YAML::Key << "hint" << YAML::Value << e.hint;
  }
  out << YAML::EndMap;
}

}  // namespace

std::string toYaml(const Config& c) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "trust_domain" << YAML::Value << c.trustDomain.name();
  out << YAML::Key << "socket_path" << YAML::Value << c.socketPath;
  out << YAML::Key << "data_dir" << YAML::Value << c.dataDir;
  out << YAML::Key << "log_level" << YAML::Value << c.logLevel;
  out << YAML::Key << "log_format" << YAML::Value
      << (c.logFormat == log::Format::Json ? "json" : "text");
  out << YAML::Key << "x509_svid_ttl" << YAML::Value << formatDuration(c.x509SvidTtl);
  out << YAML::Key << "jwt_svid_ttl" << YAML::Value << formatDuration(c.jwtSvidTtl);
  writeAuthority(out, c.authority);
  out << YAML::Key << "health" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "listen" << YAML::Value << c.healthListen << YAML::EndMap;
  out << YAML::Key << "attestors" << YAML::Value << c.attestors;
  if (c.tpm) {
    char handle[16];
    std::snprintf(handle, sizeof(handle), "0x%08x", c.tpm->ekHandle);
    out << YAML::Key << "node_attestors" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "tpm" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "tcti" << YAML::Value << c.tpm->tcti;
    out << YAML::Key << "pcrs" << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (uint32_t pcr : c.tpm->pcrs) {
      out << pcr;
    }
    out << YAML::EndSeq;
    out << YAML::Key << "ek_handle" << YAML::Value << handle;
    if (!c.tpm->ekCaBundle.empty()) {
      out << YAML::Key << "ek_ca_bundle" << YAML::Value << c.tpm->ekCaBundle;
    }
    out << YAML::Key << "remeasure_interval" << YAML::Value
        << formatDuration(c.tpm->remeasureInterval);
    out << YAML::EndMap << YAML::EndMap;
  }
  out << YAML::Key << "entries" << YAML::Value << YAML::BeginSeq;
  for (const RegistrationEntry& e : c.entries) {
    writeEntry(out, e);
  }
  out << YAML::EndSeq;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace lanyard::daemon
