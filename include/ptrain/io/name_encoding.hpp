#pragma once
// Names are bytes. Linux allows any byte but '/' and NUL in a file name, and a CSV's labels may
// be in any encoding, so ptrain keeps names as the bytes they are and converts them only where
// text must be UTF-8 or printable:
// - In files (model metadata, JSON reports) a name is percent-encoded: '%', the control bytes
//   0x00-0x1F and 0x7F, and every byte that is not part of valid UTF-8 become %XX (upper-case
//   hex); everything else stays as it is, so a plain UTF-8 name reads unchanged. The encoding is
//   reversible (Python: urllib.parse.unquote_to_bytes) and every exporter reuses it.
// - On a terminal a name's control bytes (C0, DEL, and C1's U+0080-U+009F) and invalid UTF-8
//   bytes are shown as \xNN, so a name cannot move the cursor, recolour or retitle the terminal.
#include <string>
#include <string_view>

namespace ptrain {

std::string encode_name(std::string_view bytes);
// The bytes back; a '%' not followed by two hex digits stays as it is.
std::string decode_name(std::string_view text);

// `text` safe to print: newlines kept when `keep_newlines` (a block of lines), else shown as
// \x0a like every other control byte (one line).
std::string terminal_text(std::string_view text, bool keep_newlines = true);

}  // namespace ptrain
