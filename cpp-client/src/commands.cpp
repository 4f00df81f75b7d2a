#include "stagelink/commands.hpp"

#include "json_fields.hpp"

namespace stagelink {

namespace commands {
json go_to_frame(std::int64_t frame) { return json{{"kind", "go_to_frame"}, {"frame", frame}}; }
json pause() { return json{{"kind", "pause"}}; }
json resume() { return json{{"kind", "resume"}}; }
json rewind() { return json{{"kind", "rewind"}}; }
json step(std::int64_t delta) { return json{{"kind", "step"}, {"delta", delta}}; }
json set_tempo(double tempo) { return json{{"kind", "set_tempo"}, {"tempo", tempo}}; }
json set_sprite_prop(std::int64_t sprite_num, std::int64_t begin_frame, std::string prop,
                     json value) {
  return json{{"kind", "set_sprite_prop"}, {"sprite_num", sprite_num},
              {"begin_frame", begin_frame}, {"prop", std::move(prop)}, {"value", std::move(value)}};
}
json set_member_prop(std::int64_t cast_lib, std::int64_t member_num, std::string prop,
                     json value) {
  return json{{"kind", "set_member_prop"}, {"cast_lib", cast_lib}, {"member_num", member_num},
              {"prop", std::move(prop)}, {"value", std::move(value)}};
}
json set_cast_prop(std::int64_t cast_lib, std::string prop, json value) {
  return json{{"kind", "set_cast_prop"}, {"cast_lib", cast_lib}, {"prop", std::move(prop)},
              {"value", std::move(value)}};
}
json set_movie_prop(std::string prop, json value) {
  return json{{"kind", "set_movie_prop"}, {"prop", std::move(prop)}, {"value", std::move(value)}};
}
json set_stage_prop(std::string prop, json value) {
  return json{{"kind", "set_stage_prop"}, {"prop", std::move(prop)}, {"value", std::move(value)}};
}
json custom(std::string name, json payload) {
  return json{{"kind", "custom"}, {"name", std::move(name)}, {"payload", std::move(payload)}};
}
json batch(std::vector<json> list) {
  json a = json::array();
  for (auto& c : list) a.push_back(std::move(c));
  return json{{"kind", "batch"}, {"commands", std::move(a)}};
}
}  // namespace commands

namespace {

/// A `value` field must be present; JSON null is a legitimate value.
void require_value(detail::FieldReader& r, const json& c) {
  if (r.ok() && !c.contains("value")) r.fail(errc::missing_field, "missing field 'value'");
}

Result<void> check(const json& c, int depth) {
  detail::FieldReader r(c, "command");
  const std::string kind = r.str("kind");
  if (!r.ok()) return r.error();
  if (kind == "go_to_frame") {
    r.i64("frame");
  } else if (kind == "pause" || kind == "resume" || kind == "rewind") {
  } else if (kind == "step") {
    r.i64("delta");
  } else if (kind == "set_tempo") {
    r.num("tempo");
  } else if (kind == "set_sprite_prop") {
    r.i64("sprite_num");
    r.i64("begin_frame");
    r.str("prop");
    require_value(r, c);
  } else if (kind == "set_member_prop") {
    r.i64("cast_lib");
    r.i64("member_num");
    r.str("prop");
    require_value(r, c);
  } else if (kind == "set_cast_prop") {
    r.i64("cast_lib");
    r.str("prop");
    require_value(r, c);
  } else if (kind == "set_movie_prop" || kind == "set_stage_prop") {
    r.str("prop");
    require_value(r, c);
  } else if (kind == "custom") {
    r.str("name");
  } else if (kind == "batch") {
    if (depth > 8) return make_error(errc::invalid_field, "command: batches nested too deeply");
    if (const json* list = r.array("commands", true)) {
      for (const auto& inner : *list) {
        Result<void> ok = check(inner, depth + 1);
        if (!ok) return ok;
      }
    }
  } else {
    return make_error(errc::invalid_field, "command: unknown kind '" + kind + "'");
  }
  if (!r.ok()) return r.error();
  return {};
}

}  // namespace

Result<CommandSpec> validate_command(const json& command) {
  Result<void> ok = check(command, 0);
  if (!ok) return ok.error();
  return CommandSpec{command["kind"].get<std::string>(), command};
}

std::int64_t CommandSpec::integer(const char* field) const {
  auto it = body.find(field);
  if (it == body.end() || !it->is_number_integer()) return 0;
  return it->get<std::int64_t>();
}

double CommandSpec::number(const char* field) const {
  auto it = body.find(field);
  if (it == body.end() || !it->is_number()) return 0.0;
  return it->get<double>();
}

std::string CommandSpec::text(const char* field) const {
  auto it = body.find(field);
  if (it == body.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

const json& CommandSpec::value(const char* field) const {
  static const json null_value;
  auto it = body.find(field);
  return it == body.end() ? null_value : *it;
}

}  // namespace stagelink
