; expect: unsat
; Lemma (QF_FPBV, used by exact Float32 rescales with rounding half_away in smt-bv): for every
; finite binary32 x with |x| < 2^31 (validation keeps rescaled values below 2^31),
;  k = roundToIntegral_RNA(x) is the nearest integer, away from zero on a tie.
; The check is in binary64, where k, x and k +- 1/2 are all exact; the binary32 -> int32
; conversion is fp.to_sbv 32 with RTZ on an integral value (exact).
(set-logic QF_FPBV)
(declare-const x (_ FloatingPoint 8 24))
(define-fun lim () (_ FloatingPoint 8 24) ((_ to_fp 8 24) RNE 2147483520.0))
(assert (not (fp.isNaN x)))
(assert (fp.leq (fp.neg lim) x lim))
(define-fun half () (_ FloatingPoint 8 24) ((_ to_fp 8 24) RNE 0.5))
(define-fun k_away () (_ BitVec 32) ((_ fp.to_sbv 32) RTZ (fp.roundToIntegral RNA x)))
(define-fun D ((k (_ BitVec 32))) (_ FloatingPoint 11 53) ((_ to_fp 11 53) RNE k))
(define-fun X () (_ FloatingPoint 11 53) ((_ to_fp 11 53) RNE x))
(define-fun H () (_ FloatingPoint 11 53) ((_ to_fp 11 53) RNE 0.5))
(define-fun lo ((k (_ BitVec 32))) (_ FloatingPoint 11 53) (fp.sub RNE (D k) H))
(define-fun hi ((k (_ BitVec 32))) (_ FloatingPoint 11 53) (fp.add RNE (D k) H))
(define-fun ok_away () Bool (and (fp.leq (lo k_away) X) (fp.leq X (hi k_away))
  (=> (fp.eq X (lo k_away)) (bvsgt k_away #x00000000))
  (=> (fp.eq X (hi k_away)) (bvslt k_away #x00000000))))
(assert (not ok_away))
(check-sat)
