#include "proxy/flags.h"

#include "absl/container/btree_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "proxy/config_values.h"
#include "proxy/flag_table.h"

namespace bpfproxy {
namespace {

using flags_internal::AllFlags;
using flags_internal::Flag;
using flags_internal::FlagState;
using flags_internal::Group;
using flags_internal::WithConfigFile;

const Flag* Find(const std::string& name) {
  for (const Flag& f : AllFlags()) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

// One flag of the command line, found in the table, with its value.
struct FlagUse {
  const Flag* flag;
  std::string value;
  std::string text() const { return absl::StrCat("--", flag->name, "=", value); }
};

// Splits |args| into flags and values with pflag's rules: --name=value,
// --name value, -name, booleans without a value; "_" is "-" in names.
absl::StatusOr<std::vector<FlagUse>> Tokenize(const std::vector<std::string>& args) {
  std::vector<FlagUse> uses;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    size_t dashes = absl::StartsWith(arg, "--") ? 2 : absl::StartsWith(arg, "-") ? 1 : 0;
    if (dashes == 0 || arg.size() == dashes) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument \"", arg, "\""));
    }
    std::string name = arg.substr(dashes), value;
    bool has_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    name = absl::StrReplaceAll(name, {{"_", "-"}});
    if (name == "h") name = "help";
    const Flag* flag = Find(name);
    if (flag == nullptr) return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    if (!has_value && flag->is_bool()) {
      value = "true";
    } else if (!has_value) {
      if (i + 1 >= args.size()) return absl::InvalidArgumentError(absl::StrCat("flag --", name, " needs a value"));
      value = args[++i];
    }
    uses.push_back({flag, std::move(value)});
  }
  return uses;
}

absl::Status Set(FlagState& state, const FlagUse& use, absl::btree_set<std::string>& seen) {
  state.current = use.text();
  state.repeated = !seen.insert(use.flag->name).second;
  absl::Status s = use.flag->set(state, use.value);
  if (s.ok()) return s;
  return absl::InvalidArgumentError(
      absl::StrCat("invalid value \"", use.value, "\" for flag --", use.flag->name, ": ", s.message()));
}

// kube-proxy's processV1Alpha1Flags: the iptables periods apply unless the
// mode is ipvs, the ipvs ones only then (nftables takes the iptables flags).
void ResolveSyncPeriods(FlagState& state, const std::vector<FlagUse>& uses) {
  bool ipvs = state.config.proxy_mode == "ipvs";
  auto pick = [](const std::optional<absl::Duration>& v, absl::Duration& out) {
    if (v) out = *v;
  };
  pick(ipvs ? state.ipvs_sync : state.iptables_sync, state.config.sync_period);
  pick(ipvs ? state.ipvs_min_sync : state.iptables_min_sync, state.config.min_sync_period);
  for (const FlagUse& use : uses) {
    bool is_ipvs_flag = absl::StartsWith(use.flag->name, "ipvs-") && absl::EndsWith(use.flag->name, "sync-period");
    bool is_iptables_flag =
        absl::StartsWith(use.flag->name, "iptables-") && absl::EndsWith(use.flag->name, "sync-period");
    if ((is_ipvs_flag && !ipvs) || (is_iptables_flag && ipvs)) {
      state.config.ignored.push_back(
          {use.text(), ipvs ? "with --proxy-mode=ipvs, kube-proxy takes the --ipvs-* sync periods instead"
                            : "kube-proxy takes this only with --proxy-mode=ipvs; the --iptables-* sync periods "
                              "apply"});
    }
  }
}

absl::Status ValidateSyncPeriods(const DaemonConfig& c, absl::string_view sync_name, absl::string_view min_name) {
  if (c.sync_period <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(sync_name, " must be greater than 0"));
  }
  if (c.min_sync_period < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(min_name, " must not be negative"));
  }
  if (c.min_sync_period > c.sync_period) {
    return absl::InvalidArgumentError(absl::StrCat(min_name, " (", FormatGoDuration(c.min_sync_period),
                                                   ") must not exceed ", sync_name, " (",
                                                   FormatGoDuration(c.sync_period), ")"));
  }
  return absl::OkStatus();
}

// kube-proxy's addressFromDeprecatedFlags: port 0 disables the server, any
// other port is added to an address given without one.
void ApplyDeprecatedPort(const std::optional<int>& port, std::string& address) {
  if (!port) return;
  if (*port == 0) {
    address.clear();
  } else if (!address.empty()) {
    address = AppendPortIfNeeded(address, *port);
  }
}

}  // namespace

absl::StatusOr<DaemonConfig> ParseFlags(const std::vector<std::string>& args) {
  absl::StatusOr<std::vector<FlagUse>> uses = Tokenize(args);
  if (!uses.ok()) return uses.status();
  DaemonConfig config;
  FlagState state{.config = config};
  absl::btree_set<std::string> seen;
  for (const FlagUse& use : *uses) {
    if (absl::Status s = Set(state, use, seen); !s.ok()) return s;
  }
  ResolveSyncPeriods(state, *uses);
  const char* sync_flag = config.proxy_mode == "ipvs" ? "--ipvs-sync-period" : "--iptables-sync-period";
  const char* min_flag = config.proxy_mode == "ipvs" ? "--ipvs-min-sync-period" : "--iptables-min-sync-period";
  if (absl::Status s = ValidateSyncPeriods(config, sync_flag, min_flag); !s.ok()) return s;
  ApplyDeprecatedPort(state.healthz_port, config.healthz_bind_address);
  ApplyDeprecatedPort(state.metrics_port, config.metrics_bind_address);
  return config;
}

absl::Status ApplyFlagsOverConfigFile(const std::vector<std::string>& args, DaemonConfig& from_file) {
  absl::StatusOr<std::vector<FlagUse>> uses = Tokenize(args);
  if (!uses.ok()) return uses.status();
  FlagState state{.config = from_file};
  absl::btree_set<std::string> seen;
  for (const FlagUse& use : *uses) {
    if (use.flag->with_config == WithConfigFile::kFlagApplies) {
      if (absl::Status s = Set(state, use, seen); !s.ok()) return s;
      continue;
    }
    // Still validated (kube-proxy parses every flag before it reads
    // --config), then dropped: the file's setting stands.
    DaemonConfig scratch;
    FlagState check{.config = scratch, .current = use.text()};
    if (absl::Status s = use.flag->set(check, use.value); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid value \"", use.value, "\" for flag --", use.flag->name, ": ", s.message()));
    }
    if (scratch.ignored.empty()) {
      from_file.ignored.push_back({use.text(), "the --config file's setting wins (as with kube-proxy)"});
    }
    from_file.ignored.insert(from_file.ignored.end(), scratch.ignored.begin(), scratch.ignored.end());
  }
  return absl::OkStatus();
}

std::string FlagsUsage() {
  struct Section {
    Group group;
    const char* title;
  };
  std::string out =
      "Usage: bpfproxy [flags]\n\n"
      "bpfproxy replaces kube-proxy: it takes kube-proxy's flags and its --config file (a\n"
      "KubeProxyConfiguration), and serves Services from eBPF programs instead of iptables/ipvs rules.\n";
  for (const Section& section :
       {Section{Group::kKubeProxy, "kube-proxy flags"},
        Section{Group::kIgnored, "kube-proxy flags accepted and ignored (logged once)"},
        Section{Group::kLogging, "Logging flags ([ignored] ones are accepted and logged once)"},
        Section{Group::kBpfproxy, "bpfproxy flags (not part of the --config file)"}}) {
    absl::StrAppend(&out, "\n", section.title, ":\n");
    for (const Flag& f : AllFlags()) {
      if (f.group != section.group) continue;
      std::string left = absl::StrCat("--", f.name, f.is_bool() ? "" : absl::StrCat("=", f.value_name));
      std::string help = f.ignored && f.group != Group::kIgnored ? absl::StrCat("[ignored] ", f.help) : f.help;
      if (*f.default_value != '\0') absl::StrAppend(&help, " (default ", f.default_value, ")");
      absl::StrAppendFormat(&out, "  %-40s %s\n", left, help);
    }
  }
  return out;
}

std::vector<std::string> FlagNames() {
  std::vector<std::string> names;
  for (const Flag& f : AllFlags()) names.push_back(f.name);
  return names;
}

}  // namespace bpfproxy
