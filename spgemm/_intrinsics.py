"""Two LLVM intrinsics numba does not expose: atomic fetch-and-add and a cache prefetch."""
from __future__ import annotations

from llvmlite import binding as llvm_binding
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

# llvm.prefetch is overloaded on the pointer type: "p0" with opaque pointers (LLVM >= 15, the
# default of recent llvmlite), "p0i8" for an i8* with typed pointers (older LLVM).
_PREFETCH = ("llvm.prefetch.p0" if llvm_binding.llvm_version_info >= (15,)
             else "llvm.prefetch.p0i8")


@intrinsic
def atomic_add(typingctx, arr, idx, val):
    """``old = arr[idx]; arr[idx] += val`` atomically (sequentially consistent); returns old.

    arr: int64 1-D array, idx: integer, val: int64. For jitted code only.
    """
    if not (isinstance(arr, types.Array) and arr.dtype == types.int64 and arr.ndim == 1):
        return None
    sig = types.int64(arr, types.intp, types.int64)

    def codegen(context, builder, signature, args):
        a, i, v = args
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, a)
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [i])
        return builder.atomic_rmw("add", ptr, v, ordering="seq_cst")

    return sig, codegen


@intrinsic
def prefetch(typingctx, arr, idx):
    """Hint the CPU to load ``arr[idx]`` into cache (read, high locality). Never faults, so an
    index past the end is harmless. arr: 1-D C-contiguous array, idx: integer."""
    if not (isinstance(arr, types.Array) and arr.ndim == 1 and isinstance(idx, types.Integer)):
        return None
    sig = types.void(arr, idx)

    def codegen(context, builder, signature, args):
        a, i = args
        ary = context.make_array(signature.args[0])(context, builder, a)
        offset = context.cast(builder, i, signature.args[1], types.intp)
        ptr = builder.bitcast(builder.gep(ary.data, [offset]), ir.IntType(8).as_pointer())
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [ptr.type, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, _PREFETCH)
        builder.call(fn, [ptr, i32(0), i32(3), i32(1)])  # read, keep in all levels, data
        return context.get_dummy_value()

    return sig, codegen
