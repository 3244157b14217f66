package scripting

import (
	"strings"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/ast"
)

// The `..` operator is gopher-lua's OP_CONCAT, which joins its operands
// without any limit: `s .. s .. s ...` over a 16 MiB string asks for
// gigabytes in one instruction, before any deadline can act. gopher-lua
// offers no hook there, so Orbit compiles `..` differently instead of
// patching the VM: every chain `a .. b .. c` becomes a call of a hidden
// local, concat(a, b, c), which checks the result's size first.
//
// The hidden local is the chunk's first statement, taken from the chunk's
// arguments (require passes the function), and the rest of the chunk runs
// in an inner function called without arguments, so `...` at the top of a
// file stays empty as before. Its name is not a Lua identifier: no script
// can name, shadow or replace it, and load/loadstring are not available to
// compile code that escapes the rewrite.

// concatName is the hidden local holding the checked concatenation.
const concatName = "(concat)"

// wrapChunk rewrites every `..` of a parsed file into a checked call.
func wrapChunk(stmts []ast.Stmt) []ast.Stmt {
	rewriteStmts(stmts)
	last := 1
	if n := len(stmts); n > 0 {
		last = max(stmts[n-1].LastLine(), stmts[n-1].Line())
	}
	body := &ast.FunctionExpr{ParList: &ast.ParList{HasVargs: true}, Stmts: stmts}
	body.SetLine(1)
	body.SetLastLine(last)
	run := &ast.FuncCallExpr{Func: body}
	run.SetLine(1)
	run.SetLastLine(last)
	args := &ast.Comma3Expr{AdjustRet: true}
	args.SetLine(1)
	local := &ast.LocalAssignStmt{Names: []string{concatName}, Exprs: []ast.Expr{args}}
	local.SetLine(1)
	ret := &ast.ReturnStmt{Exprs: []ast.Expr{run}}
	ret.SetLine(last)
	return []ast.Stmt{local, ret}
}

func rewriteStmts(stmts []ast.Stmt) {
	for _, s := range stmts {
		rewriteStmt(s)
	}
}

func rewriteExprs(exprs []ast.Expr) {
	for i, e := range exprs {
		exprs[i] = rewrite(e)
	}
}

func rewriteStmt(s ast.Stmt) {
	switch s := s.(type) {
	case *ast.AssignStmt:
		rewriteExprs(s.Lhs)
		rewriteExprs(s.Rhs)
	case *ast.LocalAssignStmt:
		rewriteExprs(s.Exprs)
	case *ast.FuncCallStmt:
		s.Expr = rewrite(s.Expr)
	case *ast.DoBlockStmt:
		rewriteStmts(s.Stmts)
	case *ast.WhileStmt:
		s.Condition = rewrite(s.Condition)
		rewriteStmts(s.Stmts)
	case *ast.RepeatStmt:
		s.Condition = rewrite(s.Condition)
		rewriteStmts(s.Stmts)
	case *ast.IfStmt:
		s.Condition = rewrite(s.Condition)
		rewriteStmts(s.Then)
		rewriteStmts(s.Else)
	case *ast.NumberForStmt:
		s.Init, s.Limit = rewrite(s.Init), rewrite(s.Limit)
		if s.Step != nil {
			s.Step = rewrite(s.Step)
		}
		rewriteStmts(s.Stmts)
	case *ast.GenericForStmt:
		rewriteExprs(s.Exprs)
		rewriteStmts(s.Stmts)
	case *ast.FuncDefStmt:
		if s.Name != nil {
			s.Name.Func = rewrite(s.Name.Func)
			s.Name.Receiver = rewrite(s.Name.Receiver)
		}
		rewriteStmts(s.Func.Stmts)
	case *ast.ReturnStmt:
		rewriteExprs(s.Exprs)
	}
}

// rewrite returns e with every concatenation in it replaced.
func rewrite(e ast.Expr) ast.Expr {
	switch e := e.(type) {
	case nil:
		return nil
	case *ast.StringConcatOpExpr:
		// a .. b .. c parses as a .. (b .. c): one call takes them all, as
		// one OP_CONCAT would.
		var args []ast.Expr
		cur := ast.Expr(e)
		for {
			c, ok := cur.(*ast.StringConcatOpExpr)
			if !ok {
				args = append(args, rewrite(cur))
				break
			}
			args = append(args, rewrite(c.Lhs))
			cur = c.Rhs
		}
		fn := &ast.IdentExpr{Value: concatName}
		fn.SetLine(e.Line())
		fn.SetLastLine(e.LastLine())
		// AdjustRet keeps one result and, in `return a .. b`, a plain call
		// rather than a tail call, so errors keep the caller's line.
		call := &ast.FuncCallExpr{Func: fn, Args: args, AdjustRet: true}
		call.SetLine(e.Line())
		call.SetLastLine(e.LastLine())
		return call
	case *ast.AttrGetExpr:
		e.Object, e.Key = rewrite(e.Object), rewrite(e.Key)
	case *ast.TableExpr:
		for _, f := range e.Fields {
			f.Key, f.Value = rewrite(f.Key), rewrite(f.Value)
		}
	case *ast.FuncCallExpr:
		e.Func, e.Receiver = rewrite(e.Func), rewrite(e.Receiver)
		rewriteExprs(e.Args)
	case *ast.LogicalOpExpr:
		e.Lhs, e.Rhs = rewrite(e.Lhs), rewrite(e.Rhs)
	case *ast.RelationalOpExpr:
		e.Lhs, e.Rhs = rewrite(e.Lhs), rewrite(e.Rhs)
	case *ast.ArithmeticOpExpr:
		e.Lhs, e.Rhs = rewrite(e.Lhs), rewrite(e.Rhs)
	case *ast.UnaryMinusOpExpr:
		e.Expr = rewrite(e.Expr)
	case *ast.UnaryNotOpExpr:
		e.Expr = rewrite(e.Expr)
	case *ast.UnaryLenOpExpr:
		e.Expr = rewrite(e.Expr)
	case *ast.FunctionExpr:
		rewriteStmts(e.Stmts)
	}
	return e
}

// concat is `..` with its operands as arguments. It follows OP_CONCAT:
// from the right, runs of strings and numbers are joined at once, and any
// other operand pair goes to a __concat metamethod. Each join is charged
// before it is allocated.
func (v *vm) concat(L *lua.LState) int {
	top := L.GetTop()
	rhs := L.Get(top)
	if top == 2 {
		// The common a .. b of two strings.
		if a, ok := L.Get(1).(lua.LString); ok {
			if b, ok := rhs.(lua.LString); ok {
				v.alloc("..", len(a)+len(b))
				L.Push(a + b)
				return 1
			}
		}
	}
	for i := top - 1; i >= 1; {
		lhs := L.Get(i)
		if !lua.LVCanConvToString(lhs) || !lua.LVCanConvToString(rhs) {
			mm := L.GetMetaField(lhs, "__concat")
			if mm == lua.LNil {
				mm = L.GetMetaField(rhs, "__concat")
			}
			if mm.Type() != lua.LTFunction {
				L.RaiseError("cannot perform concat operation between %v and %v", lhs.Type().String(), rhs.Type().String())
			}
			L.Push(mm)
			L.Push(lhs)
			L.Push(rhs)
			L.Call(2, 1)
			rhs = L.Get(-1)
			L.Pop(1)
			i--
			continue
		}
		first, n := i, len(lua.LVAsString(rhs))
		for ; first >= 1 && lua.LVCanConvToString(L.Get(first)); first-- {
			if n += len(lua.LVAsString(L.Get(first))); n > maxString {
				break // alloc raises; stop before the sum can overflow
			}
		}
		v.alloc("..", n)
		var b strings.Builder
		b.Grow(n)
		for k := first + 1; k <= i; k++ {
			b.WriteString(lua.LVAsString(L.Get(k)))
		}
		b.WriteString(lua.LVAsString(rhs))
		rhs = lua.LString(b.String())
		i = first
	}
	L.Push(rhs)
	return 1
}
