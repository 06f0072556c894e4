#pragma once

// Judging found audio against the filetype a client declared, by the table in
// audio_probe.hpp (accepted_containers()).

#include <string>
#include <string_view>

#include "media/audio_probe.hpp"

namespace audiodrop::media {

// "declared mp3", with the client's word made safe to put in a sentence (printable, short),
// or "declared no filetype".
std::string declared_phrase(std::string_view declared_filetype);

// Empty when the table accepts facts.format and facts.codec for the declared filetype;
// else the sentence saying what was found instead ("declared m4a, found mp3 audio").
std::string describe_mismatch(std::string_view declared_filetype, const AudioFacts& facts);

}  // namespace audiodrop::media
