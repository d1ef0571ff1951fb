; expect: unsat
; Lemma (QF_FPBV, used by exact Float32 rescales with rounding half_up in smt-bv): for every
; finite binary32 x with |x| < 2^31 (validation keeps rescaled values below 2^31),
;  f = roundToIntegral_RTN(x); k = f + 1 if x != f and x >= fl(f + 1/2), else f, is floor(x + 1/2):
;  k - 1/2 <= x < k + 1/2. (fl(f + 1/2) is exact whenever x != f, because then |x| < 2^23.)
; The check is in binary64, where k, x and k +- 1/2 are all exact; the binary32 -> int32
; conversion is fp.to_sbv 32 with RTZ on an integral value (exact).
(set-logic QF_FPBV)
(declare-const x (_ FloatingPoint 8 24))
(define-fun lim () (_ FloatingPoint 8 24) ((_ to_fp 8 24) RNE 2147483520.0))
(assert (not (fp.isNaN x)))
(assert (fp.leq (fp.neg lim) x lim))
(define-fun half () (_ FloatingPoint 8 24) ((_ to_fp 8 24) RNE 0.5))
(define-fun f () (_ FloatingPoint 8 24) (fp.roundToIntegral RTN x))
(define-fun fi () (_ BitVec 32) ((_ fp.to_sbv 32) RTZ f))
(define-fun k_up () (_ BitVec 32) (ite (and (not (fp.eq x f)) (fp.geq x (fp.add RNE f half))) (bvadd fi #x00000001) fi))
(define-fun D ((k (_ BitVec 32))) (_ FloatingPoint 11 53) ((_ to_fp 11 53) RNE k))
(define-fun X () (_ FloatingPoint 11 53) ((_ to_fp 11 53) RNE x))
(define-fun H () (_ FloatingPoint 11 53) ((_ to_fp 11 53) RNE 0.5))
(define-fun lo ((k (_ BitVec 32))) (_ FloatingPoint 11 53) (fp.sub RNE (D k) H))
(define-fun hi ((k (_ BitVec 32))) (_ FloatingPoint 11 53) (fp.add RNE (D k) H))
(define-fun ok_up () Bool (and (fp.leq (lo k_up) X) (fp.lt X (hi k_up))))
(assert (not ok_up))
(check-sat)
