; expect: unsat
; Lemma (used by the Q31 rescale): the encoder's RoundingDivideByPOT circuit — q = x >>arith e,
; r = x mod 2^e (low bits), threshold = 2^(e-1) - 1 + (x < 0 ? 1 : 0) written as the constant
; floor(mask/2) (+1), result = q + (r > threshold) — equals gemmlowp's reference expression
; ((x >> e) + (remainder > threshold)) with remainder = x & mask, and is round-half-away-from-zero
; of x / 2^e, for every int32 x and 1 <= e <= 31.
(set-logic QF_BV)
(declare-const x (_ BitVec 32))
(declare-const e32 (_ BitVec 32))
(assert (bvule #x00000001 e32))
(assert (bvule e32 #x0000001f))
(define-fun X () (_ BitVec 64) ((_ sign_extend 32) x))
(define-fun e () (_ BitVec 64) ((_ zero_extend 32) e32))
(define-fun msk () (_ BitVec 64) (bvsub (bvshl #x0000000000000001 e) #x0000000000000001))
(define-fun q () (_ BitVec 64) (bvashr X e))
(define-fun r () (_ BitVec 64) (bvand X msk))
(define-fun thr () (_ BitVec 64) (ite (bvslt X #x0000000000000000) (bvadd (bvlshr msk #x0000000000000001) #x0000000000000001) (bvlshr msk #x0000000000000001)))
(define-fun circuit () (_ BitVec 64) (ite (bvsgt r thr) (bvadd q #x0000000000000001) q))
; gemmlowp, in int32 arithmetic
(define-fun m32 () (_ BitVec 32) (bvsub (bvshl #x00000001 e32) #x00000001))
(define-fun ref32 () (_ BitVec 32)
  (bvadd (bvashr x e32) (ite (bvsgt (bvand x m32) (bvadd (bvashr m32 #x00000001) (ite (bvslt x #x00000000) #x00000001 #x00000000))) #x00000001 #x00000000)))
(define-fun d () (_ BitVec 64) (bvsub X (bvshl circuit e)))
(define-fun h () (_ BitVec 64) (bvshl #x0000000000000001 (bvsub e #x0000000000000001)))
(define-fun nearest () Bool (and (bvsle (bvneg h) d) (bvsle d h)
  (=> (= d h) (bvslt circuit #x0000000000000000))
  (=> (= d (bvneg h)) (bvsgt circuit #x0000000000000000))))
(assert (or (not (= circuit ((_ sign_extend 32) ref32))) (not nearest)))
(check-sat)
