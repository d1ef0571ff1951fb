; expect: unsat
; Lemma (Enc::clamp): with u_lo < lo < u_hi and u in [u_lo, u_hi], the rows
;   v >= u, v <= u + (lo - u_lo) b, v + (u_hi - lo) b <= u_hi, lo <= v <= u_hi, b in {0,1}
; (each widened by 1/4) hold for some b iff v = max(u, lo); symmetrically with
;   y <= v, y >= v - (v_hi - hi) b, y - (hi - v_lo) b >= v_lo, v_lo <= y <= hi
; iff y = min(v, hi) when v_lo < hi < v_hi. The products with the binary are written with ite.
(set-logic QF_LIA)
(declare-const u Int) (declare-const ulo Int) (declare-const uhi Int) (declare-const lo Int)
(declare-const v Int) (declare-const b Int)
(define-fun rows () Bool (and (<= 0 b 1) (<= lo v uhi)
  (>= (* 4 (- v u)) (- (* 4 0) 1))
  (<= (* 4 (- (- v u) (ite (= b 1) (- lo ulo) 0))) (+ (* 4 0) 1))
  (<= (* 4 (+ v (ite (= b 1) (- uhi lo) 0))) (+ (* 4 uhi) 1))))
(define-fun pre () Bool (and (< ulo lo) (< lo uhi) (<= ulo u uhi)))
(push 1) (assert pre) (assert rows) (assert (not (= v (ite (> u lo) u lo)))) (check-sat) (pop 1)
(push 1) (assert pre) (assert (= v (ite (> u lo) u lo))) (assert (= b (ite (> u lo) 0 1))) (assert (not rows)) (check-sat) (pop 1)
(declare-const vlo Int) (declare-const vhi Int) (declare-const hi Int) (declare-const y Int)
(define-fun rows2 () Bool (and (<= 0 b 1) (<= vlo y hi)
  (<= (* 4 (- y v)) (+ (* 4 0) 1))
  (>= (* 4 (+ (- y v) (ite (= b 1) (- vhi hi) 0))) (- (* 4 0) 1))
  (>= (* 4 (- y (ite (= b 1) (- hi vlo) 0))) (- (* 4 vlo) 1))))
(define-fun pre2 () Bool (and (< vlo hi) (< hi vhi) (<= vlo v vhi)))
(push 1) (assert pre2) (assert rows2) (assert (not (= y (ite (< v hi) v hi)))) (check-sat) (pop 1)
(push 1) (assert pre2) (assert (= y (ite (< v hi) v hi))) (assert (= b (ite (< v hi) 0 1))) (assert (not rows2)) (check-sat) (pop 1)
