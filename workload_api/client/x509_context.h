// SPDX-License-Identifier: Apache-2.0
// X509Context: one FetchX509SVID message parsed into SVIDs and bundles (WAPI-8 … WAPI-11).
#pragma once

#include <string>
#include <vector>

#include "svid/bundle.h"
#include "svid/x509_svid.h"

namespace lanyard::workload_api {

/// One X.509-SVID from the Workload API with its optional hint (WAPI-9).
struct X509Identity {
  svid::X509Svid svid;
  std::string hint;
};

/// The complete X.509 state one FetchX509SVID message carries (WAPI-6, WAPI-7). Move-only
/// value type (the SVID keys are not copyable); share it as std::shared_ptr<const X509Context>.
struct X509Context {
  /// At least one; element 0 is the default identity (WAPI-8). SVIDs whose non-empty hint
  /// repeats an earlier one are dropped, keeping the first (WAPI-9).
  std::vector<X509Identity> svids;
  /// Every SVID's own trust-domain bundle plus the federated bundles; a federated entry
  /// replaces a domain bundle of the same name, as go-spiffe does (WAPI-10, WAPI-11).
  svid::BundleMap bundles;

  /// The default identity (svids[0]).
  const X509Identity& defaultSvid() const { return svids.front(); }
};

}  // namespace lanyard::workload_api
