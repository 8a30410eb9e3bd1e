;; The built-in engine's two loops with 128-bit SIMD, four channels at a time (see
;; simd-kernels.ts). Compiled by `npm run build:wasm` into kernels-wasm.ts (a test checks that
;; file matches this source).
;;
;; project(weight, vector, out, inputs, stride)
;;   out[j] = sum over d < inputs of weight[d * stride + j] * vector[d], for j < stride
;;   (byte addresses of f32 arrays; stride a multiple of 4): a token's projections through
;;   every tap, written straight into its arena slot.
;;
;; pool4(arena, slots, windows, stride, s1, s2, s3, channels, off1, off2, off3, pooled)
;;   arena   byte address of the projection arena (f32; slot s at arena + s * stride * 4)
;;   slots   byte address of the text's slots (i32), kernel - 1 = 3 padding slots on each side
;;   windows number of windows (tokens + 3)
;;   stride  numbers per slot
;;   s1..s3  first channel using tap 1, 2, 3 (tap 0: every channel, from offset 0)
;;   off1..3 offset of tap 1, 2, 3's projections in a slot
;;   pooled  byte address of `channels` f32: the max over windows of the taps' sums
;; Channel boundaries s1, s2, s3 and channels must be multiples of 4 (checked by the caller).
(module
  (import "env" "memory" (memory 1))
  (func (export "project")
    (param $weight i32) (param $vector i32) (param $out i32) (param $inputs i32) (param $stride i32)
    (local $d i32) (local $j i32) (local $end i32) (local $row i32) (local $x v128)
    (local.set $end (i32.shl (local.get $stride) (i32.const 2)))
    (local.set $j (i32.const 0))
    (block $cleared (loop $clear
      (br_if $cleared (i32.ge_u (local.get $j) (local.get $end)))
      (v128.store (i32.add (local.get $out) (local.get $j)) (v128.const f32x4 0 0 0 0))
      (local.set $j (i32.add (local.get $j) (i32.const 16)))
      (br $clear)))
    (local.set $d (i32.const 0))
    (block $inputsDone (loop $input
      (br_if $inputsDone (i32.ge_u (local.get $d) (local.get $inputs)))
      (local.set $x (f32x4.splat (f32.load (i32.add (local.get $vector) (i32.shl (local.get $d) (i32.const 2))))))
      (local.set $row (i32.add (local.get $weight) (i32.mul (local.get $d) (local.get $end))))
      (local.set $j (i32.const 0))
      (block $rowDone (loop $column
        (br_if $rowDone (i32.ge_u (local.get $j) (local.get $end)))
        (v128.store (i32.add (local.get $out) (local.get $j))
          (f32x4.add (v128.load (i32.add (local.get $out) (local.get $j)))
            (f32x4.mul (v128.load (i32.add (local.get $row) (local.get $j))) (local.get $x))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $column)))
      (local.set $d (i32.add (local.get $d) (i32.const 1)))
      (br $input)))
  )
  (func (export "pool4")
    (param $arena i32) (param $slots i32) (param $windows i32) (param $stride i32)
    (param $s1 i32) (param $s2 i32) (param $s3 i32) (param $channels i32)
    (param $off1 i32) (param $off2 i32) (param $off3 i32) (param $pooled i32)
    (local $o i32) (local $c i32) (local $end i32)
    (local $b0 i32) (local $b1 i32) (local $b2 i32) (local $b3 i32) (local $slotBytes i32)
    (local $v v128)
    ;; bytes per slot; channel limits in bytes
    (local.set $slotBytes (i32.shl (local.get $stride) (i32.const 2)))
    (local.set $s1 (i32.shl (local.get $s1) (i32.const 2)))
    (local.set $s2 (i32.shl (local.get $s2) (i32.const 2)))
    (local.set $s3 (i32.shl (local.get $s3) (i32.const 2)))
    (local.set $end (i32.shl (local.get $channels) (i32.const 2)))
    ;; pooled = -infinity
    (local.set $c (i32.const 0))
    (block $done
      (loop $fill
        (br_if $done (i32.ge_u (local.get $c) (local.get $end)))
        (v128.store (i32.add (local.get $pooled) (local.get $c)) (v128.const f32x4 -inf -inf -inf -inf))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $fill)))
    (local.set $o (i32.const 0))
    (block $windowsDone
      (loop $window
        (br_if $windowsDone (i32.ge_u (local.get $o) (local.get $windows)))
        ;; b_k = arena + slots[o + k] * slotBytes + (off_k - s_k) * 4, so that b_k + c reads channel c
        (local.set $b0 (i32.add (local.get $arena)
          (i32.mul (i32.load (i32.add (local.get $slots) (i32.shl (local.get $o) (i32.const 2)))) (local.get $slotBytes))))
        (local.set $b1 (i32.sub (i32.add (i32.add (local.get $arena)
          (i32.mul (i32.load offset=4 (i32.add (local.get $slots) (i32.shl (local.get $o) (i32.const 2)))) (local.get $slotBytes)))
          (i32.shl (local.get $off1) (i32.const 2))) (local.get $s1)))
        (local.set $b2 (i32.sub (i32.add (i32.add (local.get $arena)
          (i32.mul (i32.load offset=8 (i32.add (local.get $slots) (i32.shl (local.get $o) (i32.const 2)))) (local.get $slotBytes)))
          (i32.shl (local.get $off2) (i32.const 2))) (local.get $s2)))
        (local.set $b3 (i32.sub (i32.add (i32.add (local.get $arena)
          (i32.mul (i32.load offset=12 (i32.add (local.get $slots) (i32.shl (local.get $o) (i32.const 2)))) (local.get $slotBytes)))
          (i32.shl (local.get $off3) (i32.const 2))) (local.get $s3)))
        ;; channels [0, s1): tap 0
        (local.set $c (i32.const 0))
        (block $d1 (loop $l1
          (br_if $d1 (i32.ge_u (local.get $c) (local.get $s1)))
          (local.set $v (v128.load (i32.add (local.get $b0) (local.get $c))))
          (v128.store (i32.add (local.get $pooled) (local.get $c))
            (f32x4.max (v128.load (i32.add (local.get $pooled) (local.get $c))) (local.get $v)))
          (local.set $c (i32.add (local.get $c) (i32.const 16)))
          (br $l1)))
        ;; channels [s1, s2): taps 0, 1
        (block $d2 (loop $l2
          (br_if $d2 (i32.ge_u (local.get $c) (local.get $s2)))
          (local.set $v (f32x4.add
            (v128.load (i32.add (local.get $b0) (local.get $c)))
            (v128.load (i32.add (local.get $b1) (local.get $c)))))
          (v128.store (i32.add (local.get $pooled) (local.get $c))
            (f32x4.max (v128.load (i32.add (local.get $pooled) (local.get $c))) (local.get $v)))
          (local.set $c (i32.add (local.get $c) (i32.const 16)))
          (br $l2)))
        ;; channels [s2, s3): taps 0, 1, 2
        (block $d3 (loop $l3
          (br_if $d3 (i32.ge_u (local.get $c) (local.get $s3)))
          (local.set $v (f32x4.add (f32x4.add
            (v128.load (i32.add (local.get $b0) (local.get $c)))
            (v128.load (i32.add (local.get $b1) (local.get $c))))
            (v128.load (i32.add (local.get $b2) (local.get $c)))))
          (v128.store (i32.add (local.get $pooled) (local.get $c))
            (f32x4.max (v128.load (i32.add (local.get $pooled) (local.get $c))) (local.get $v)))
          (local.set $c (i32.add (local.get $c) (i32.const 16)))
          (br $l3)))
        ;; channels [s3, channels): taps 0, 1, 2, 3
        (block $d4 (loop $l4
          (br_if $d4 (i32.ge_u (local.get $c) (local.get $end)))
          (local.set $v (f32x4.add (f32x4.add (f32x4.add
            (v128.load (i32.add (local.get $b0) (local.get $c)))
            (v128.load (i32.add (local.get $b1) (local.get $c))))
            (v128.load (i32.add (local.get $b2) (local.get $c))))
            (v128.load (i32.add (local.get $b3) (local.get $c)))))
          (v128.store (i32.add (local.get $pooled) (local.get $c))
            (f32x4.max (v128.load (i32.add (local.get $pooled) (local.get $c))) (local.get $v)))
          (local.set $c (i32.add (local.get $c) (i32.const 16)))
          (br $l4)))
        (local.set $o (i32.add (local.get $o) (i32.const 1)))
        (br $window)))))
