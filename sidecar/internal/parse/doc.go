// Package parse turns one log record's text into loglet's JSON record.
//
// The format is detected per record:
//
//   - JSON (logrus' JSONFormatter, slog's JSONHandler, zap, ...): a line whose
//     first non-blank byte is '{'. The object is scanned once and validated;
//     the app's values are copied into the output as raw bytes, so numbers keep
//     their exact value (12345678901234567890 stays that integer), booleans stay
//     booleans and nested objects stay objects.
//   - logfmt (logrus' TextFormatter): a line made only of key=value pairs.
//     Bare values are inferred as integer, float or boolean, otherwise string;
//     quoted values are strings.
//   - plain text: anything else, including multi-line records (stack traces)
//     that the [Joiner] assembled. A leading Go log timestamp
//     (2006/01/02 15:04:05) or RFC 3339 timestamp (a zone after a space,
//     as Serilog writes it, included) becomes the record's time; a leading
//     time of day (15:04:05.000, logback's and log4j2's default layouts)
//     is placed on the day the record was read. The level is taken from
//     the first line where it is unambiguous (see plainLevel).
//
// Well-known keys are lifted to the top of the record: the time from "time"
// (or "ts", "timestamp", "@timestamp"), the level from "level" (or "lvl",
// "severity"), and the message from "msg" (or "message"). Every other key
// goes into "fields", in input order. The level is normalised to one of
// [Levels] ([NormalizeLevel]); when that changed the word (warning to
// warn, not merely WARN to warn), the word as written goes to
// "level_original". Options.RawLevels ships it lower-cased as written.
//
// Options.Shape, when set, sees every record before it is encoded and may
// drop it (Result.Dropped), change its message and fields, or add members
// (package shape).
//
// Times are normalised to UTC RFC 3339 with nanosecond precision in
// "@timestamp". A time without a zone is read in Options.Location. A record
// with no usable time gets the time it was read, and "time_source":"read".
//
// Pinned types (Options.FieldTypes, from LOGLET_FIELD_TYPES) convert a field
// to its declared type where that can be done losslessly ("5" becomes 5 for
// an int); a value that cannot be converted is moved to "type_errors" as a
// string, so a search index never sees one field with two types.
//
// A number outside float64's range (1e400, -2e999, an integer of over 308
// digits) is valid JSON, but encoding/json and most other decoders refuse
// the whole record over it. Such a field, or an object or array holding one,
// goes to "type_errors" as a string (its text, "1e400") and counts as a type
// error, JSON or logfmt alike; a field pinned to string takes it as a string
// in "fields". Numbers that are merely long (12345678901234567890) or round
// to zero (1e-400) stay numbers.
//
// Invalid input (broken JSON, invalid UTF-8, NUL bytes and other control
// characters) never fails: the record is sent as a plain message with
// "parse_error" naming the problem. The output is always one valid JSON object.
package parse
