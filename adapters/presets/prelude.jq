# hub360 - helpers every mapping can use (prepended to each preset and
# mapping file). Keep them small and total: a helper given null returns
# null, so optional vendor fields stay optional.

# Epoch seconds -> RFC 3339 UTC, for years 1 to 9999 only: jq 1.6 aborts
# the whole process (an assertion in its strftime) on seconds its gmtime
# cannot take, so anything else is an error the record fails with.
def epoch_todate:
  if . >= -62135596800 and . < 253402300800 then todate
  else error("\(.) seconds since 1970 is not a time of the years 1 to 9999")
  end;

# Epoch seconds or milliseconds (number or numeric string) -> RFC 3339 UTC.
def ts_s: if . == null or . == "" then null
          else (tonumber | floor | epoch_todate) end;
# (The milliseconds are what is left over the floored seconds: before
# 1970 too, where jq's % would give them negative.)
def ts_ms: if . == null or . == "" then null
           else (tonumber | floor) as $ms
                | ($ms / 1000 | floor) as $sec
                | ($sec | epoch_todate) as $s
                | ($ms - $sec * 1000) as $f
                | if $f == 0 then $s
                  else $s[:-1] + "." + ("00" + ($f | tostring))[-3:] + "Z" end
           end;

# The minor-unit exponent of an ISO-4217 currency (2 unless listed).
def currency_exponent($cur):
  {"JPY":0,"KRW":0,"VND":0,"CLP":0,"ISK":0,"UGX":0,"XAF":0,"XOF":0,
   "BHD":3,"KWD":3,"OMR":3,"JOD":3,"TND":3,"IQD":3,"LYD":3}[$cur] // 2;

# A decimal amount ("199.90", 199.9, "1,299.00") -> integer minor units of
# $cur, computed on the digits (no binary floating point rounding).
def minor($cur):
  if . == null or . == "" then null
  else (tostring | split(",") | add // "") as $s
     | currency_exponent($cur) as $e
     | ($s | startswith("-")) as $neg
     | ($s | ltrimstr("-") | split(".")) as $p
     | (($p[1] // "") + ("0" * $e))[:$e] as $frac
     | (($p[0] + $frac) | tonumber) as $v
     | if $neg then -$v else $v end
  end;

# An identity {kind, value} when value is a non-empty string, else nothing.
def ident($kind; $value):
  if ($value | type) == "string" and ($value | length) > 0
  then {kind: $kind, value: $value}
  elif ($value | type) == "number" then {kind: $kind, value: ($value | tostring)}
  else empty end;

# Drops null members, so optional payload fields may simply be absent.
# (del rather than with_entries: jq 1.6's from_entries makes that 3 times
# slower, and every event of every preset goes through here.)
def compact: del(.[] | nulls);

# The text after the last ":" of "zen:ticket:123" style ids.
def last_segment: tostring | split(":") | last;

# ---- presets-a helpers (hubspot, salesforce, zendesk, shopify, odoo,
# ---- erpnext); appended by the presets-a engineer.

# Fast paths. jq 1.6 compiles a regular expression at each use, so one
# sub() or gsub() costs 15-30 µs, and the helpers that chain them
# (open_value, rfc3339, ts_auto; mention.jq's mention_platform) were most
# of a mapping's time. Each first tries one test() (anchored with \A and
# \z: no newline gets through) for the shape vendors send nearly always,
# and answers that with string builtins; anything else goes the regular
# expressions' way (the helper's _re), which gives the same value for
# every input that passes the test. tests/unit/test_mapping.c checks
# both ways agree, on near misses, Unicode and errors too.

# Plain words: ASCII lower-case letters, digits, "_" and ".", one space
# between words, no other character ("closed won", "x.com"); and plain
# words with "_" for each space. (ascii_downcase and join are jq code in
# jq 1.6, 15 and 7 µs: a label already in lower case skips the first.)
def _plain_words: test("\\A[a-z0-9_.]+( [a-z0-9_.]+)*\\z");
def _underscored:
  split(" ") | if length == 1 then .[0] else reduce .[1:][] as $w (.[0]; . + "_" + $w) end;
# A label lower-cased with "_" for its spaces when it is plain words,
# else slow (the regular expressions) on it lower-cased.
def _plain_label(slow):
  if type == "string" and _plain_words then _underscored
  else tostring | ascii_downcase | if _plain_words then _underscored else slow end end;

# A vendor label as an open-set value: trimmed, lower-cased, each run of
# spaces (or a spaced dash: "Open - Not Contacted") becomes "_"
# ("Closed Won" -> "closed_won"). null stays null.
def _open_value_re:
  if . == null then null
  else tostring | ascii_downcase | sub("^\\s+"; "") | sub("\\s+$"; "")
     | gsub("\\s+-\\s+"; "_") | gsub("\\s+"; "_") end;
def open_value: if . == null then null else _plain_label(_open_value_re) end;

# ISO 3166-2 ("US", "KY" -> "US-KY"), else the country code alone, else null.
def iso_region($country; $sub):
  if ($country | type) != "string" or $country == "" then null
  elif ($sub | type) == "string" and $sub != "" then
    (if ($sub | startswith($country + "-")) then $sub else $country + "-" + $sub end)
  else $country end;

# A calendar date ("2026-03-20", or a timestamp whose date part is meant)
# -> midnight UTC ("2026-03-20T00:00:00Z").
def date_utc:
  if . == null or . == "" then null else (tostring | .[:10]) + "T00:00:00Z" end;

# A vendor timestamp -> RFC 3339: "2024-09-27T10:39:01.000+0000" gets the
# colon in its offset, a naive "2025-01-01 10:00:00" (UTC by the caller's
# word) gets "T" and "Z", a bare date is midnight UTC; fractions beyond
# milliseconds are cut.
def _rfc3339_re:
  if . == null or . == "" then null
  elif (tostring | test("^\\d{4}-\\d\\d-\\d\\d$")) then date_utc
  else tostring | sub("^(?<d>\\d{4}-\\d\\d-\\d\\d) "; "\(.d)T")
     | sub("\\.(?<f>\\d{3})\\d+"; ".\(.f)")
     | if test("([Zz]|[+-]\\d\\d:\\d\\d)$") then .
       elif test("[+-]\\d{4}$") then .[:-2] + ":" + .[-2:]
       else . + "Z" end
  end;
# Already RFC 3339 with milliseconds or none: as it is.
def rfc3339:
  if type == "string" and test("\\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{3})?([Zz]|[+-][0-9]{2}:[0-9]{2})\\z")
  then .
  else _rfc3339_re end;

# An identity whose value is an id in this source ("crm_contact",
# "erp_customer", ...): {kind, value: "<source name>:<id>"}, or nothing
# for a missing id (null, "", false).
def source_ident($kind; $id):
  if $id == null or $id == "" or $id == false then empty
  else ident($kind; $source.name + ":" + ($id | tostring)) end;

# A locale as a BCP 47 tag: "zh_CN", "zh-cn" -> "zh-CN"; "en" stays; other
# shapes are kept as given.
def bcp47:
  if (type != "string") or . == "" then null
  elif test("^[A-Za-z]{2,3}([-_][A-Za-z]{2})?$") then
    (split("-") | join("_") | split("_")) as $p
    | ($p[0] | ascii_downcase) + (if ($p | length) > 1 then "-" + ($p[1] | ascii_upcase) else "" end)
  else . end;

# ---- presets-b helpers (wechat, weibo, meta, mention); appended by the
# ---- presets-b engineer.

# A social_handle identity "<platform>:<handle>" when the handle is a
# non-empty string or a number (a leading "@" is dropped), else nothing.
def handle_ident($platform; $handle):
  ($handle | if type == "number" then tostring else . end) as $h
  | if ($h | type) == "string" and ($h | ltrimstr("@") | length) > 0
    then {kind: "social_handle", value: ($platform + ":" + ($h | ltrimstr("@")))}
    else empty end;

# ts_auto's two ways. jq 1.6 compiles a regular expression at each use,
# and a capture() builds an object besides: the capture below was most of
# a mapping's time. So the date-time shape is matched by test() and read
# by slicing (_ts_shaped), and only what does not match it (digits, other
# types, other text) goes the way of the capture (_ts_auto_re); both give
# the same value for every input.
def _ts_shaped:
  .[19:] as $rest | ($rest | length) as $n
  | (if $n == 0 then 0
     elif ($rest[$n - 1:] | . == "Z" or . == "z") then 1
     elif $n >= 6 and ($rest[$n - 6:$n - 5] | . == "+" or . == "-") then 6
     elif $n >= 5 and ($rest[$n - 5:$n - 4] | . == "+" or . == "-") then 5
     else 0 end) as $zl
  | (if $zl < 5 then 0
     else $rest[$n - $zl:] as $z
        | (($z[1:3] | tonumber) * 3600 + ($z[$zl - 2:] | tonumber) * 60)
        | if $z[0:1] == "-" then -. else . end
     end) as $off
  | ((.[0:10] + "T" + .[11:19] + "Z") | fromdateiso8601) as $s
  | (($s - $off) * 1000 + (($rest[1:$n - $zl] + "000")[:3] | tonumber))
  | ts_ms;

def _ts_auto_re:
  if . == null or . == "" then null
  elif type == "number" or (type == "string" and test("^[0-9]+$")) then
    (tonumber | if . >= 100000000000 then ts_ms else ts_s end)
  else tostring as $raw
     | [$raw | capture("^(?<d>[0-9]{4}-[0-9]{2}-[0-9]{2})[T ](?<t>[0-9]{2}:[0-9]{2}:[0-9]{2})(\\.(?<f>[0-9]+))?(?<z>[Zz]|[+-][0-9]{2}:?[0-9]{2})?$")][0] as $c
     | if $c == null then $raw
       else (($c.d + "T" + $c.t + "Z") | fromdateiso8601) as $s
          | (if $c.z == null or $c.z == "Z" or $c.z == "z" then 0
             else ($c.z | gsub(":"; "")) as $z
                | (($z[1:3] | tonumber) * 3600 + ($z[3:5] | tonumber) * 60)
                | if $z[0:1] == "-" then -. else . end
             end) as $off
          | (($s - $off) * 1000 + ((($c.f // "") + "000")[:3] | tonumber)) | ts_ms
       end
  end;

# A time as vendors of social data give it -> RFC 3339 UTC (or null):
# epoch seconds or milliseconds (a number, or a string of digits; values
# from 10^11 up are milliseconds), or an ISO 8601 date-time with "T" or a
# space, an optional fraction (kept to milliseconds) and an optional offset
# ("Z", "+08:00", "+0800"; none means UTC). Other text is returned as is,
# for hub360's check to name.
#
# The usual shape, UTC with milliseconds or none ("...:00.123Z"), comes
# out as it came in (".000" dropped, "z" as "Z") once its date and time
# are seen to be real: back from epoch seconds the same. Costs half.
def ts_auto:
  if type == "string" and test("\\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{3})?[Zz]\\z")
     and ((.[0:19] + "Z") as $z | try (($z | fromdateiso8601 | epoch_todate) == $z) catch false)
  then if .[20:23] == "" or .[20:23] == "000" then .[0:19] + "Z" else .[0:23] + "Z" end
  elif type == "string" and length >= 19 and test("\\A(?<d>[0-9]{4}-[0-9]{2}-[0-9]{2})[T ](?<t>[0-9]{2}:[0-9]{2}:[0-9]{2})(\\.(?<f>[0-9]+))?(?<z>[Zz]|[+-][0-9]{2}:?[0-9]{2})?\\z") then _ts_shaped
  else _ts_auto_re end;

# ---- cdc helpers (Debezium change events; adapters/README.md, "CDC").
# `.` is the change event: {op, before, after, source, ts_ms, ...}.

# The row the change leaves (after), or the row a delete removed (before).
def dbz_row: if .op == "d" then .before else .after end;

# When the database made the change, in epoch milliseconds: source.ts_ms,
# else source.ts_sec (older MySQL connectors), else when Debezium read it
# (ts_ms): snapshots of older connectors carry 0 in source.
def dbz_ts_ms:
  if (.source.ts_ms // 0) > 0 then .source.ts_ms
  elif (.source.ts_sec // 0) > 0 then .source.ts_sec * 1000
  else .ts_ms end;

# Where the change is in the database's log: the same text each time
# Debezium emits the change again (after a connector restart). Postgres:
# lsn; MySQL and MariaDB: binlog file:pos:row; SQL Server:
# commit_lsn:change_lsn:event_serial_no; Oracle: scn, with the redo
# record's rs_id and ssn where the connector gives them (one SCN can hold
# thousands of changes, two of them to one row); MongoDB: ord;
# otherwise Debezium's ts_ms, which a re-emission does not keep.
def dbz_position:
  .source as $s
  | if $s.lsn != null then "lsn:\($s.lsn)"
    elif $s.file != null then "\($s.file):\($s.pos):\($s.row // 0)"
    elif $s.change_lsn != null then "\($s.commit_lsn):\($s.change_lsn):\($s.event_serial_no // 0)"
    elif $s.scn != null then
      "scn:\($s.scn)" + (if $s.rs_id != null or $s.ssn != null
                         then ":\($s.rs_id // ""):\($s.ssn // 0)" else "" end)
    elif $s.ord != null then "ord:\($s.ts_ms):\($s.ord)"
    else "ts:\(.ts_ms)" end;

# The change's place in the database's log as a number, for the
# envelope's `sequence`: two changes of one row in one transaction share
# ts_ms (the commit time; MySQL's is whole seconds), and the sequence
# keeps the later one. PostgreSQL: lsn; MySQL and MariaDB: the binlog
# file's number * 2^32 + pos; Oracle: scn; MongoDB: ord (its ts_ms is
# whole seconds, ord counts within one). null where the connector gives
# none that fits in a double exactly (SQL Server's LSNs are 80 bits):
# then the event id breaks the tie, as before.
# A source's counter as the envelope's `sequence`: a whole number from 0
# to 2^53 (what jq keeps exact), given as a number or as its decimal
# text (integers past 2^53 reach jq as text); null for anything else.
def sequence_number:
  (if type == "string" then (try tonumber catch null) else . end)
  | if type == "number" and . >= 0 and . < 9007199254740992 and . == floor
    then . else null end;

def dbz_sequence:
  .source as $s
  | if $s.lsn != null then $s.lsn | sequence_number
    elif $s.file != null and $s.pos != null then
      ((try ($s.file | split(".") | last | tonumber) catch null) | sequence_number) as $n
      | if $n != null and $n < 2097152 and ($s.pos | sequence_number) != null
        then ($n * 4294967296 + $s.pos) | sequence_number else null end
    elif $s.scn != null then $s.scn | sequence_number
    elif $s.ord != null then $s.ord | sequence_number
    else null end;

# A stable event id for one row change: "<table>/<primary key>/<position>"
# (the key too, because a snapshot reads every row at one position).
def dbz_id($pk): "\($meta.resource)/\($pk)/\(dbz_position)";
