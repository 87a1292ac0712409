;; services.wat — an example Pol matcher (LANGUAGE.md §7, ABI version 1):
;; a service catalogue.
;;
;;   matcher catalogue = wasm "matchers/services.wat"
;;   policy egress { ... allow browser to any service catalogue("web", "dns") ... }
;;
;; `catalogue("name", ...)` returns the union of the named catalogue entries
;; (any case) as one Pol service set:
;;   catalogue("web")  ->  { tcp 80, tcp 443, udp 443 }
;;
;; Return value of `pol_expand`: (ptr << 32) | len of the set text, or
;;   -1  the arguments are not a non-empty list of strings
;;   -2  a name is not in the catalogue
;;
;; Memory map (one 64 KiB page, more if the arguments need it):
;;   0x0000  the literals "{ ", ", ", " }"
;;   0x0010  the catalogue, NUL-terminated
;;   0x3000  parsed arguments, 16 slots of 12 bytes (kind, a, b)
;;   0x4000  the heap: pol_alloc hands out memory here, then the output
;;
;; The JSON reader, allocator and writer are those of geo.wat; only the
;; table and the case fold (to lower case here) differ.
(module
  (memory (export "memory") 1)

  (data (i32.const 0) "{ ")
  (data (i32.const 4) ", ")
  (data (i32.const 8) " }")

  ;; One line per entry: `name=set elements\n`; a NUL byte ends the table.
  (data (i32.const 16)
    "web=tcp 80, tcp 443, udp 443\n"
    "dns=udp 53, tcp 53, tcp 853\n"
    "ntp=udp 123\n"
    "ssh=tcp 22\n"
    "mail=tcp 25, tcp 465, tcp 587, tcp 993\n"
    "ldap=tcp 389, tcp 636\n"
    "kerberos=tcp 88, udp 88\n"
    "ipsec=udp 500, udp 4500, proto esp\n"
    "dev=tcp 3000, tcp 8000-8099\n"
    "\00")

  ;; Next free byte of the heap (bump allocation: a store lives for one call).
  (global $heap (mut i32) (i32.const 0x4000))
  ;; Write position of the output.
  (global $w (mut i32) (i32.const 0))

  ;; ---- allocation -------------------------------------------------------

  ;; Make sure memory reaches byte `end` (exclusive), growing it if needed.
  (func $reserve (param $end i32)
    (local $need i32)
    (local.set $need
      (i32.sub
        (i32.shr_u (i32.add (local.get $end) (i32.const 0xffff)) (i32.const 16))
        (memory.size)))
    (if (i32.gt_s (local.get $need) (i32.const 0))
      (then
        ;; The host's memory limit refused the growth: give up loudly.
        (if (i32.eq (memory.grow (local.get $need)) (i32.const -1))
          (then unreachable)))))

  ;; ABI: the host asks for `len` bytes to write the argument JSON into.
  (func $alloc (export "pol_alloc") (param $len i32) (result i32)
    (local $p i32)
    (local.set $p (i32.and (i32.add (global.get $heap) (i32.const 7)) (i32.const -8)))
    (call $reserve (i32.add (local.get $p) (local.get $len)))
    (global.set $heap (i32.add (local.get $p) (local.get $len)))
    (local.get $p))

  ;; Append `len` bytes at `src` to the output.
  (func $emit (param $src i32) (param $len i32)
    (call $reserve (i32.add (global.get $w) (local.get $len)))
    (memory.copy (global.get $w) (local.get $src) (local.get $len))
    (global.set $w (i32.add (global.get $w) (local.get $len))))

  ;; ---- a tiny JSON reader: an array of strings (no escapes) and integers --

  ;; The byte at `p`, or -1 at or past `end`.
  (func $peek (param $p i32) (param $end i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $p) (local.get $end))
      (then (i32.load8_u (local.get $p)))
      (else (i32.const -1))))

  ;; Skip spaces, tabs and newlines.
  (func $ws (param $p i32) (param $end i32) (result i32)
    (local $c i32)
    (block $done
      (loop $next
        (local.set $c (call $peek (local.get $p) (local.get $end)))
        (br_if $done
          (i32.eqz
            (i32.or
              (i32.or (i32.eq (local.get $c) (i32.const 32)) (i32.eq (local.get $c) (i32.const 9)))
              (i32.or (i32.eq (local.get $c) (i32.const 10)) (i32.eq (local.get $c) (i32.const 13))))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $next)))
    (local.get $p))

  ;; Parse the argument array at [p, p+len) into the slots at 0x3000:
  ;; a string is (1, ptr, len), an integer (2, value, 0). Returns the
  ;; number of arguments, or -1 if the text is not such an array.
  (func $parse_args (param $p i32) (param $len i32) (result i32)
    (local $end i32) (local $n i32) (local $c i32) (local $start i32)
    (local $v i32) (local $neg i32) (local $slot i32)
    (local.set $end (i32.add (local.get $p) (local.get $len)))
    (local.set $p (call $ws (local.get $p) (local.get $end)))
    (if (i32.ne (call $peek (local.get $p) (local.get $end)) (i32.const 91)) ;; [
      (then (return (i32.const -1))))
    (local.set $p (call $ws (i32.add (local.get $p) (i32.const 1)) (local.get $end)))
    (if (i32.eq (call $peek (local.get $p) (local.get $end)) (i32.const 93)) ;; ]
      (then (return (i32.const 0))))
    (loop $arg
      (if (i32.ge_u (local.get $n) (i32.const 16))
        (then (return (i32.const -1))))
      (local.set $slot (i32.add (i32.const 0x3000) (i32.mul (local.get $n) (i32.const 12))))
      (local.set $c (call $peek (local.get $p) (local.get $end)))
      (if (i32.eq (local.get $c) (i32.const 34)) ;; "
        (then
          (local.set $p (i32.add (local.get $p) (i32.const 1)))
          (local.set $start (local.get $p))
          (block $closed
            (loop $char
              (local.set $c (call $peek (local.get $p) (local.get $end)))
              (br_if $closed (i32.eq (local.get $c) (i32.const 34)))
              ;; the end of the input, a control character or an escape
              ;; (none of the table's keys needs one): not supported
              (if (i32.or (i32.lt_s (local.get $c) (i32.const 32)) (i32.eq (local.get $c) (i32.const 92)))
                (then (return (i32.const -1))))
              (local.set $p (i32.add (local.get $p) (i32.const 1)))
              (br $char)))
          (i32.store (local.get $slot) (i32.const 1))
          (i32.store offset=4 (local.get $slot) (local.get $start))
          (i32.store offset=8 (local.get $slot) (i32.sub (local.get $p) (local.get $start)))
          (local.set $p (i32.add (local.get $p) (i32.const 1))))
        (else
          ;; an integer: an optional minus, then 1 to 9 digits
          (local.set $neg (i32.eq (local.get $c) (i32.const 45))) ;; -
          (if (local.get $neg)
            (then (local.set $p (i32.add (local.get $p) (i32.const 1)))))
          (local.set $start (local.get $p))
          (local.set $v (i32.const 0))
          (block $digits_done
            (loop $digit
              (local.set $c (i32.sub (call $peek (local.get $p) (local.get $end)) (i32.const 48)))
              (br_if $digits_done (i32.gt_u (local.get $c) (i32.const 9)))
              (if (i32.ge_u (i32.sub (local.get $p) (local.get $start)) (i32.const 9))
                (then (return (i32.const -1))))
              (local.set $v (i32.add (i32.mul (local.get $v) (i32.const 10)) (local.get $c)))
              (local.set $p (i32.add (local.get $p) (i32.const 1)))
              (br $digit)))
          (if (i32.eq (local.get $p) (local.get $start))
            (then (return (i32.const -1))))
          (if (local.get $neg)
            (then (local.set $v (i32.sub (i32.const 0) (local.get $v)))))
          (i32.store (local.get $slot) (i32.const 2))
          (i32.store offset=4 (local.get $slot) (local.get $v))
          (i32.store offset=8 (local.get $slot) (i32.const 0))))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (local.set $p (call $ws (local.get $p) (local.get $end)))
      (local.set $c (call $peek (local.get $p) (local.get $end)))
      (if (i32.eq (local.get $c) (i32.const 44)) ;; ,
        (then
          (local.set $p (call $ws (i32.add (local.get $p) (i32.const 1)) (local.get $end)))
          (br $arg)))
      (if (i32.ne (local.get $c) (i32.const 93)) ;; ]
        (then (return (i32.const -1)))))
    (local.get $n))

  ;; ---- the table --------------------------------------------------------

  ;; Names compare case-insensitively: fold A-Z to a-z.
  (func $fold (param $c i32) (result i32)
    (if (result i32)
      (i32.le_u (i32.sub (local.get $c) (i32.const 65)) (i32.const 25))
      (then (i32.add (local.get $c) (i32.const 32)))
      (else (local.get $c))))

  ;; Do the `n` table bytes at `t` equal the folded key bytes at `k`?
  (func $same (param $t i32) (param $k i32) (param $n i32) (result i32)
    (local $i i32)
    (block $differ
      (loop $next
        (if (i32.ge_u (local.get $i) (local.get $n))
          (then (return (i32.const 1))))
        (br_if $differ
          (i32.ne
            (i32.load8_u (i32.add (local.get $t) (local.get $i)))
            (call $fold (i32.load8_u (i32.add (local.get $k) (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const 0))

  ;; Find the line `KEY=...` for the key at [k, k+klen); returns the text
  ;; after `=` as (ptr, len), or (0, -1) when the key is not in the table.
  (func $lookup (param $k i32) (param $klen i32) (result i32 i32)
    (local $line i32) (local $eol i32) (local $body i32)
    (local.set $line (i32.const 16))
    (block $missing
      (loop $next_line
        (br_if $missing (i32.eqz (i32.load8_u (local.get $line))))
        (local.set $eol (local.get $line))
        (block $at_eol
          (loop $scan
            (br_if $at_eol (i32.eq (i32.load8_u (local.get $eol)) (i32.const 10)))
            (local.set $eol (i32.add (local.get $eol) (i32.const 1)))
            (br $scan)))
        ;; the key must fit in the line, match its start, and be followed by `=`
        (if (i32.lt_u (local.get $klen) (i32.sub (local.get $eol) (local.get $line)))
          (then
            (if (i32.and
                  (i32.eq (i32.load8_u (i32.add (local.get $line) (local.get $klen))) (i32.const 61)) ;; =
                  (call $same (local.get $line) (local.get $k) (local.get $klen)))
              (then
                (local.set $body (i32.add (i32.add (local.get $line) (local.get $klen)) (i32.const 1)))
                (return (local.get $body) (i32.sub (local.get $eol) (local.get $body)))))))
        (local.set $line (i32.add (local.get $eol) (i32.const 1)))
        (br $next_line)))
    (i32.const 0) (i32.const -1))

  ;; ---- the entry point --------------------------------------------------

  ;; ABI: expand the argument JSON at [ptr, ptr+len) into a Pol set literal:
  ;; the union of the table lines of every argument.
  (func (export "pol_expand") (param $ptr i32) (param $len i32) (result i64)
    (local $n i32) (local $i i32) (local $slot i32) (local $out i32)
    (local $body i32) (local $blen i32)
    (local.set $n (call $parse_args (local.get $ptr) (local.get $len)))
    (if (i32.le_s (local.get $n) (i32.const 0))
      (then (return (i64.const -1))))
    ;; the output starts at the top of the heap (past the arguments)
    (local.set $out (global.get $heap))
    (global.set $w (local.get $out))
    (call $emit (i32.const 0) (i32.const 2)) ;; "{ "
    (loop $each
      (local.set $slot (i32.add (i32.const 0x3000) (i32.mul (local.get $i) (i32.const 12))))
      (if (i32.ne (i32.load (local.get $slot)) (i32.const 1)) ;; not a string
        (then (return (i64.const -1))))
      (call $lookup (i32.load offset=4 (local.get $slot)) (i32.load offset=8 (local.get $slot)))
      (local.set $blen)
      (local.set $body)
      (if (i32.lt_s (local.get $blen) (i32.const 0))
        (then (return (i64.const -2))))
      (if (local.get $i)
        (then (call $emit (i32.const 4) (i32.const 2)))) ;; ", "
      (call $emit (local.get $body) (local.get $blen))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $each (i32.lt_u (local.get $i) (local.get $n))))
    (call $emit (i32.const 8) (i32.const 2)) ;; " }"
    (global.set $heap (global.get $w))
    ;; (ptr << 32) | len
    (i64.or
      (i64.shl (i64.extend_i32_u (local.get $out)) (i64.const 32))
      (i64.extend_i32_u (i32.sub (global.get $w) (local.get $out))))))
