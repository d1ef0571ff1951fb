; expect: unsat
; Lemma (QF_BV, used by the Dyadic rescale and every power-of-two division of the smt-bv encoding):
; the rounding circuit the encoder emits for round(t / 2^s),
;   q = t >>arith s, r = t mod 2^s (low bits), up = r > 2^(s-1) or (r = 2^(s-1) and tie-rule),
;   result = q + up,
; is round-to-nearest with the mode's tie rule, for EVERY 32-bit accumulator t and 1 <= s <= 30,
; for all three modes. Round-to-nearest is stated independently of floor/remainder: with
; d = t - k*2^s (exact in 64 bits), |d| <= 2^(s-1), and on a tie (|d| = 2^(s-1)) the chosen side is
; the mode's. We assert that the circuit's k violates this for some mode: unsat proves the lemma.
(set-logic QF_BV)
(declare-const t32 (_ BitVec 32))
(declare-const s32 (_ BitVec 32))
(assert (bvule #x00000001 s32))
(assert (bvule s32 #x0000001e))
; the circuit, in 32 bits as the encoder does (width of t suffices: q and r fit)
(define-fun q () (_ BitVec 32) (bvashr t32 s32))
(define-fun msk () (_ BitVec 32) (bvsub (bvshl #x00000001 s32) #x00000001))
(define-fun r () (_ BitVec 32) (bvand t32 msk))
(define-fun half () (_ BitVec 32) (bvshl #x00000001 (bvsub s32 #x00000001)))
(define-fun above () Bool (bvugt r half))
(define-fun tie () Bool (= r half))
(define-fun k_up () (_ BitVec 32) (ite (or above tie) (bvadd q #x00000001) q))
(define-fun k_even () (_ BitVec 32) (ite (or above (and tie (= ((_ extract 0 0) q) #b1))) (bvadd q #x00000001) q))
(define-fun k_away () (_ BitVec 32) (ite (or above (and tie (bvsle #x00000000 q))) (bvadd q #x00000001) q))
; the definition, in 64 bits (no overflow: |t| < 2^31, |k*2^s| < 2^62)
(define-fun t () (_ BitVec 64) ((_ sign_extend 32) t32))
(define-fun s () (_ BitVec 64) ((_ zero_extend 32) s32))
(define-fun h () (_ BitVec 64) (bvshl #x0000000000000001 (bvsub s #x0000000000000001)))
(define-fun d ((k (_ BitVec 32))) (_ BitVec 64) (bvsub t (bvshl ((_ sign_extend 32) k) s)))
(define-fun near ((k (_ BitVec 32))) Bool (and (bvsle (bvneg h) (d k)) (bvsle (d k) h)))
; d = h: the value is k + 1/2 and was rounded down; d = -h: the value is k - 1/2, rounded up.
(define-fun ok_up ((k (_ BitVec 32))) Bool (and (near k) (not (= (d k) h))))
(define-fun ok_even ((k (_ BitVec 32))) Bool
  (and (near k) (=> (or (= (d k) h) (= (d k) (bvneg h))) (= ((_ extract 0 0) k) #b0))))
(define-fun ok_away ((k (_ BitVec 32))) Bool
  (and (near k) (=> (= (d k) h) (bvslt k #x00000000)) (=> (= (d k) (bvneg h)) (bvsgt k #x00000000))))
(assert (or (not (ok_up k_up)) (not (ok_even k_even)) (not (ok_away k_away))))
(check-sat)
