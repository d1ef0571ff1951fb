; expect: unsat
; Lemma (QF_BV, used for division by a non-power-of-two constant n, i.e. average pooling):
; the encoder's floor division of a signed t by n > 0 — shift t into the non-negative range by
; K*n with K = ceil(-lo/n), divide unsigned (bvudiv/bvurem), subtract K — gives q and r with
; t = q*n + r and 0 <= r < n (the definition of floor division), for every t in the 12-bit range
; [lo, hi] = [-2^11, 2^11 - 1] and every divisor 1 <= n <= 16, computed in a 14-bit width, as the
; encoder's width rule (a width holding t, t + K*n, q, r and n) gives. The argument does not depend
; on the width; 12 bits keep the symbolic division cheap to check.
(set-logic QF_BV)
(declare-const t (_ BitVec 14))
(declare-const n (_ BitVec 14))
(assert (bvsle #b11100000000000 t))
(assert (bvsle t #b00011111111111))
(assert (bvule #b00000000000001 n))
(assert (bvule n #b00000000010000))
; K = ceil(2^11 / n)
(define-fun K () (_ BitVec 14) (bvudiv (bvsub (bvadd #b00100000000000 n) #b00000000000001) n))
(define-fun sh () (_ BitVec 14) (bvadd t (bvmul K n)))
(define-fun q () (_ BitVec 14) (bvsub (bvudiv sh n) K))
(define-fun r () (_ BitVec 14) (bvurem sh n))
; checked in 64 bits: t + K*n does not wrap (is non-negative), t = q*n + r, 0 <= r < n
(define-fun w ((x (_ BitVec 14))) (_ BitVec 64) ((_ sign_extend 50) x))
(assert (not (and (bvsle #b00000000000000 sh) (= (bvadd (w t) (bvmul (w K) (w n))) (w sh))
                  (= (w t) (bvadd (bvmul (w q) (w n)) (w r))) (bvsle #x0000000000000000 (w r)) (bvslt (w r) (w n)))))
(check-sat)
