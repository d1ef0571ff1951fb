; expect: unsat
; Lemma (QF_FPBV, used by exact Float32 rescales in smt-bv): for every 32-bit t and every finite,
; integral binary32 f with |f| < 2^24,
;   fp.eq(to_fp_RNE(t), f)  <=>  t = fp.to_sbv_RTZ(f).
; So a fresh 32-bit constant t constrained by fp.eq equals f as an integer: the encoder uses it
; instead of fp.to_sbv, whose unspecified cases (NaN, out of range) Z3 4.8 encodes with an
; uninterpreted function, which keeps the bit-blasted query off the SAT solver. (Every integer
; below 2^24 is a binary32, so to_fp is exact there; a |t| >= 2^24 rounds to |x| >= 2^24.)
(set-logic QF_FPBV)
(declare-const t (_ BitVec 32))
(declare-const f (_ FloatingPoint 8 24))
(define-fun lim () (_ FloatingPoint 8 24) ((_ to_fp 8 24) RNE 16777216.0))
(assert (not (fp.isNaN f)))
(assert (not (fp.isInfinite f)))
(assert (fp.eq f (fp.roundToIntegral RTZ f)))
(assert (fp.lt (fp.abs f) lim))
(assert (not (= (fp.eq ((_ to_fp 8 24) RNE t) f) (= t ((_ fp.to_sbv 32) RTZ f)))))
(check-sat)
