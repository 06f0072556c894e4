#pragma once

// --help for the command lines of audiodrop-server and audiodrop, whose subcommands
// also take the options of the commands above them (CLI11 fallthrough).

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace audiodrop::core {

// CLI11 lists only a command's own options, yet `audiodrop-server serve --data-dir D`
// works because `serve` falls through to the options declared on the program. This
// formatter lists those too, after the command's own, so every subcommand's --help
// shows all it accepts. Install it on the program before adding subcommands: a
// subcommand copies its parent's formatter when it is added.
class FallthroughHelpFormatter : public CLI::Formatter {
  public:
    std::string make_help(const CLI::App* app, std::string name,
                          CLI::AppFormatMode mode) const override {
        if (mode != CLI::AppFormatMode::Normal || app->get_name().empty()) {
            return CLI::Formatter::make_help(app, std::move(name), mode);
        }
        return make_description(app) + make_usage(app, name) + make_positionals(app) +
               make_groups(app, mode) + inherited_groups(app) + make_subcommands(app, mode) + "\n" +
               make_footer(app);
    }

  private:
    std::string inherited_groups(const CLI::App* app) const {
        std::string out;
        for (const CLI::App* cmd = app; cmd->get_fallthrough() && cmd->get_parent() != nullptr;) {
            cmd = cmd->get_parent();
            const std::vector<const CLI::Option*> options =
                cmd->get_options([cmd](const CLI::Option* opt) {
                    return opt->nonpositional() && !opt->get_group().empty() &&
                           opt != cmd->get_help_ptr() && opt != cmd->get_help_all_ptr();
                });
            if (options.empty()) continue;
            out += make_group(cmd->get_parent() == nullptr ? std::string("Global options")
                                                           : "Options of " + cmd->get_name(),
                              false, options);
        }
        return out;
    }
};

}  // namespace audiodrop::core
