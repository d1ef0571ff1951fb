; expect: unsat
; Lemma (used by the Q31 rescale in both encodings): the encoder's SaturatingRoundingDoublingHighMul
; circuit — ab = a*b in 64 bits, nudge = ab >= 0 ? 2^30 : 1 - 2^30, then division by 2^31
; truncating towards zero written as floor division (arithmetic shift, low-bit remainder) plus a
; correction of 1 when the dividend is negative with a non-zero remainder — equals
;  (1) gemmlowp's reference: (ab + nudge) / 2^31 with C++ truncating division (bvsdiv), and
;  (2) round-to-nearest of a*b / 2^31 with ties towards +infinity (the nudge 1 - 2^30 for negative
;      products makes -k-1/2 round to -k: gemmlowp's SRDHM is round-half-up, not half-away),
; for every product ab of two int32 except the saturating case a = b = INT32_MIN (handled by an
; explicit ite): stated for every 64-bit ab with |ab| <= 2^62 - 2^31 + 2^31 = 2^62, a superset
; of those products (|a*b| <= 2^62, with 2^62 only at INT32_MIN^2), so no multiplier is bit-blasted.
(set-logic QF_BV)
(declare-const ab (_ BitVec 64))
(assert (bvsle (bvneg #x4000000000000000) ab))
(assert (bvslt ab #x4000000000000000))
(define-fun v () (_ BitVec 64) (ite (bvsge ab #x0000000000000000) (bvadd ab #x0000000040000000) (bvadd ab #xffffffffc0000001)))
(define-fun fq () (_ BitVec 64) (bvashr v #x000000000000001f))
(define-fun fr () (_ BitVec 64) ((_ zero_extend 33) ((_ extract 30 0) v)))
(define-fun circuit () (_ BitVec 64) (ite (and (bvslt v #x0000000000000000) (not (= fr #x0000000000000000))) (bvadd fq #x0000000000000001) fq))
(define-fun reference () (_ BitVec 64) (bvsdiv v #x0000000080000000))
; round half up: d = ab - k*2^31 in [-2^30, 2^30), i.e. a tie (d = -2^30) rounds up
(define-fun d () (_ BitVec 128) (bvsub ((_ sign_extend 64) ab) (bvmul ((_ sign_extend 64) circuit) #x00000000000000000000000080000000)))
(define-fun h () (_ BitVec 128) #x00000000000000000000000040000000)
(define-fun nearest () Bool (and (bvsle (bvneg h) d) (bvslt d h)))
(assert (or (not (= circuit reference)) (not nearest)))
(check-sat)
