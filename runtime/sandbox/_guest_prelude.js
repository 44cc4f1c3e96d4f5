// Guest code: evaluated inside QuickJS, never in Deno. The worker hands the
// engine the source text of these functions (`Function.prototype.toString`),
// so they may use only what QuickJS offers a plain script (no imports, no
// Deno, no closures over this module) and only ES2020 syntax. Lint reads
// this file as JavaScript; the worker's tests run every guard in it.

/**
 * The prelude: trusted code evaluated before the program. It receives the host call
 * function and a per-context nonce as arguments (neither is ever a global),
 * the skills' names and the allowed Object statics as JSON arrays,
 * defines the skills as frozen, non-writable globals, removes what a policy
 * must not reach, and returns a function that tells a genuine engine error
 * (out of memory, stack overflow, interrupted) from one the guest made.
 * Arguments cross to the host only as JSON text made here, inside the guest:
 * the host never touches a guest object, getter, `toString` or `valueOf`.
 * Non-finite numbers are marked with the nonce, which the guest cannot read.
 */
export function guestPrelude(
  host,
  skills,
  nonce,
  allowedObject,
  maxLength,
  poll,
  maxDepth,
  maxValues,
  maxCompareWork,
  rareSource,
) {
  "use strict";
  const stringify = JSON.stringify,
    parse = JSON.parse,
    isFiniteNumber = Number.isFinite;
  skills = parse(skills);
  allowedObject = parse(allowedObject);
  const defineProperty = Object.defineProperty, freeze = Object.freeze;
  const getOwnPropertyNames = Object.getOwnPropertyNames;
  const apply = Function.prototype.call.bind(Function.prototype.apply);
  const Internal = InternalError, InternalProto = InternalError.prototype;
  // The engine's JSON parser reports its own stack overflow as a
  // SyntaxError (no guest can name SyntaxError: the verifier refuses it).
  const SyntaxProto = SyntaxError.prototype;
  const getPrototypeOf = Object.getPrototypeOf;
  // Before a builtin that may run long in C: stop here if the run must stop.
  function checkpoint() {
    if (poll()) throw new Internal("interrupted");
  }
  const marker = "$nonFinite:" + nonce;
  function replacer(_key, value) {
    if (typeof value === "number" && !isFiniteNumber(value)) {
      const box = {};
      box[marker] = String(value);
      return box;
    }
    if (typeof value === "function") return { $function: true };
    return value;
  }
  const objectKeys = Object.keys;
  // Arguments are small plain data: refuse deep, cyclic or huge structures
  // before stringify walks them in C.
  function isSmall(root) {
    const stack = [root], depths = [0];
    let top = 1, seen = 0;
    while (top > 0) {
      top--;
      const value = stack[top];
      const depth = depths[top];
      if (value === null || typeof value !== "object") continue;
      if (depth > maxDepth || ++seen > maxValues) return false;
      const names = objectKeys(value);
      for (let k = 0; k < names.length; k++) {
        stack[top] = value[names[k]];
        depths[top] = depth + 1;
        top++;
      }
    }
    return true;
  }
  // Every SkillError the host raised, with the call it came from and its
  // stack as made (the guest may rewrite a caught one's): a label is taken
  // from that call only when the guest throws that very object.
  const issuedErrors = [], issuedSeqs = [], issuedStacks = [];
  // Engine errors (out of memory, stack overflow) a catch clause received,
  // with their name and message then: one the guest changed afterwards is
  // no longer the engine's (rethrown unchanged, it still is).
  const caughtEngine = [],
    caughtNames = [],
    caughtMessages = [],
    caughtStacks = [];
  function SkillError(code, message, seq) {
    const error = new Error(message);
    error.name = "SkillError";
    error.code = code;
    if (typeof seq === "number" && issuedErrors.length < 100000) {
      issuedErrors[issuedErrors.length] = error;
      issuedSeqs[issuedSeqs.length] = seq;
      issuedStacks[issuedStacks.length] = error.stack;
    }
    return error;
  }
  // Called (under a name the guest cannot spell: the verifier refuses it)
  // first thing in every catch clause that binds its error.
  defineProperty(globalThis, "__capCaught_" + nonce, {
    value: freeze(function (error) {
      if (
        isEngineError(error) && indexIn(caughtEngine, error) < 0 &&
        caughtEngine.length < 100000
      ) {
        const at = caughtEngine.length;
        caughtEngine[at] = error;
        caughtNames[at] = error.name;
        caughtMessages[at] = error.message;
        caughtStacks[at] = error.stack;
      }
    }),
    writable: false,
    enumerable: false,
    configurable: false,
  });
  function makeSkill(name) {
    const skill = function () {
      let n = arguments.length;
      while (n > 0 && arguments[n - 1] === undefined) n--;
      const args = [];
      for (let i = 0; i < n; i++) args[i] = arguments[i];
      const raw = host(
        name,
        isSmall(args) ? stringify(args, replacer) : "!too-deep",
      );
      if (raw === undefined) {
        for (;;) {
          // No answer: the engine's memory is spent. Nothing here
          // allocates; the interrupt handler ends the guest at its next poll.
        }
      }
      const answer = parse(raw);
      if (answer.ok) return answer.value;
      throw SkillError(answer.code, answer.message, answer.seq);
    };
    defineProperty(skill, "name", { value: name });
    return freeze(skill);
  }
  for (let i = 0; i < skills.length; i++) {
    defineProperty(globalThis, skills[i], {
      value: makeSkill(skills[i]),
      writable: false,
      enumerable: true,
      configurable: false,
    });
  }
  // Array methods loop in C: bound the arrays they may walk.
  const ArrayProto = Array.prototype,
    isArray = Array.isArray,
    arrayIndexOf = ArrayProto.indexOf;
  const ceil = Math.ceil,
    log2 = Math.log2,
    toNumber = Number,
    toString = String;
  // The length a builtin will read, refused when over the limit. Only a
  // number is taken: an object's valueOf could answer 0 here and 1e10 when
  // the builtin reads it again (a data property holding a primitive reads
  // the same twice; nothing in the guest's world can define a getter).
  function checkLength(what, value) {
    const length = value === null || value === undefined ? 0 : value.length;
    if (length !== undefined && typeof length !== "number") {
      throw new TypeError(
        "Cannot run " + what + ": length must be a number, got " +
          typeof length,
      );
    }
    if (length > maxLength) {
      throw new RangeError(
        "Cannot run " + what + ": the array has " + length +
          " elements, over the sandbox's limit of " + maxLength,
      );
    }
    return length === undefined ? 0 : length;
  }
  // Guards only some builtins need are compiled on their first use, from
  // rareGuards(): a run pays for parsing them only if it calls one.
  const evaluate = eval;
  let rare = null;
  function rareGuards() {
    if (rare === null) {
      rare = evaluate("(" + rareSource + ")")(
        apply,
        isArray,
        checkLength,
        maxLength,
        toNumber,
        toString,
        checkpoint,
        ceil,
        log2,
        RangeError,
        maxCompareWork,
      );
    }
    return rare;
  }
  // Plain-object sets: Array.prototype.indexOf is being wrapped meanwhile.
  // These touch a bounded number of elements whatever the length.
  const UNGUARDED = {
    constructor: true,
    push: true,
    pop: true,
    at: true,
    keys: true,
    values: true,
    entries: true,
  };
  const RARE_ARRAY = {
    concat: true,
    flat: true,
    flatMap: true,
    indexOf: true,
    lastIndexOf: true,
    includes: true,
    sort: true,
    toSorted: true,
  };
  getOwnPropertyNames(ArrayProto).forEach(function (name) {
    const original = ArrayProto[name];
    if (typeof original !== "function" || UNGUARDED[name] === true) return;
    const isRare = RARE_ARRAY[name] === true;
    const what = "Array.prototype." + name;
    const guarded = function () {
      const length = checkLength(what, this);
      if (length > 1000) checkpoint();
      if (isRare) {
        return rareGuards().array(
          name,
          original,
          what,
          this,
          arguments,
          length,
        );
      }
      return apply(original, this, arguments);
    };
    defineProperty(guarded, "name", { value: name });
    defineProperty(ArrayProto, name, {
      value: guarded,
      writable: true,
      enumerable: false,
      configurable: true,
    });
  });
  const from = Array.from;
  defineProperty(Array, "from", {
    value: function from_(items) {
      checkLength("Array.from", items);
      checkpoint();
      return apply(from, this, arguments);
    },
    writable: true,
    configurable: true,
  });
  // String searches are naive, (text length x pattern length) in C.
  const StringProto = String.prototype;
  ["indexOf", "lastIndexOf", "includes", "split", "replace", "replaceAll"]
    .forEach(function (name) {
      const original = StringProto[name], what = "String.prototype." + name;
      const guarded = function (search) {
        if (this === null || this === undefined || search === undefined) {
          return apply(original, this, arguments);
        }
        return rareGuards().search(original, what, this, arguments);
      };
      defineProperty(guarded, "name", { value: name });
      defineProperty(StringProto, name, {
        value: guarded,
        writable: true,
        enumerable: false,
        configurable: true,
      });
    });
  // JSON.stringify walks a replacer array up to its length, holes included.
  const jsonStringify = JSON.stringify;
  defineProperty(JSON, "stringify", {
    value: function stringify(_value, replacer, _space) {
      if (isArray(replacer)) checkLength("JSON.stringify", replacer);
      checkpoint();
      return apply(jsonStringify, JSON, arguments);
    },
    writable: true,
    configurable: true,
  });
  // Iterator helpers (drop, toArray, ...) loop over any iterator in C, and
  // Iterator.from wraps one: the guest's world has none of them.
  const IteratorProto = getPrototypeOf(getPrototypeOf([].values()));
  getOwnPropertyNames(IteratorProto).forEach(function (name) {
    delete IteratorProto[name];
  });
  // Only the allowed statics of Object remain; nothing can set a prototype.
  getOwnPropertyNames(Object).forEach(function (name) {
    if (
      typeof Object[name] === "function" &&
      apply(arrayIndexOf, allowedObject, [name]) < 0
    ) delete Object[name];
  });
  delete Object.prototype.__proto__;
  delete Object.prototype.__defineGetter__;
  delete Object.prototype.__defineSetter__;
  delete Object.prototype.__lookupGetter__;
  delete Object.prototype.__lookupSetter__;
  defineProperty(Function.prototype, "constructor", {
    value: undefined,
    writable: false,
    configurable: false,
  });
  [
    "eval",
    "Function",
    "Reflect",
    "Proxy",
    "Symbol",
    "InternalError",
    "WeakRef",
    "FinalizationRegistry",
    "Iterator",
    "globalThis",
  ]
    .forEach(function (name) {
      delete globalThis[name];
    });
  delete Math.random;
  // An engine error the guest caught must not lead back to InternalError:
  // "new e.constructor('out of memory')" would pass isEngineError below.
  defineProperty(InternalProto, "constructor", {
    value: undefined,
    writable: false,
    configurable: false,
  });
  freeze(Internal);
  freeze(InternalProto);
  // Nor may one lead back to SyntaxError ("new e.constructor(…)" would
  // make one no catch clause ever held).
  defineProperty(SyntaxProto, "constructor", {
    value: undefined,
    writable: false,
    configurable: false,
  });
  freeze(SyntaxProto);
  function isEngineError(error) {
    if (error === null || typeof error !== "object") return false;
    const proto = getPrototypeOf(error);
    return proto === InternalProto || proto === SyntaxProto;
  }
  function indexIn(list, value) {
    return apply(arrayIndexOf, list, [value]);
  }
  // What the host may conclude from the error that ended the program, and
  // the error's stack as the engine made it: [> 0, stack] the SkillError of
  // that call; [0, stack] a genuine engine error, unchanged since the
  // engine raised it; [-1] anything else (made, copied, rewritten).
  return function classify(error) {
    if (isEngineError(error)) {
      const held = indexIn(caughtEngine, error);
      if (held < 0) return [0, error.stack];
      return error.name === caughtNames[held] &&
          error.message === caughtMessages[held]
        ? [0, caughtStacks[held]]
        : [-1];
    }
    const at = indexIn(issuedErrors, error);
    return at < 0 ? [-1] : [issuedSeqs[at], issuedStacks[at]];
  };
}

/**
 * Guard logic only some builtins need (concat, flat, flatMap, element and
 * string searches, sorts), compiled inside the guest on first use. It sees
 * only what the prelude hands it: the guest may have replaced any prototype
 * method by then, so it calls none.
 */
export function guestRareGuards(
  apply,
  isArray,
  checkLength,
  maxLength,
  toNumber,
  toString,
  checkpoint,
  ceil,
  log2,
  RangeError,
  maxCompareWork,
) {
  "use strict";
  // Comparing one string costs its length: cap elements x characters for the
  // builtins that compare every element (about 30 ms of C at the cap).
  const MAX_WORK = maxCompareWork;
  function checkWork(what, work) {
    if (work > MAX_WORK) {
      throw new RangeError(
        "Cannot run " + what + ": it would compare " + work +
          " characters, over the sandbox's limit of " + MAX_WORK,
      );
    }
  }
  function longestString(array, length) {
    let longest = 0;
    for (let i = 0; i < length; i++) {
      const item = array[i];
      if (typeof item === "string" && item.length > longest) {
        longest = item.length;
      }
    }
    return longest;
  }
  // flat and flatMap walk every nested array up to its length, holes included.
  function flat(original, what, self, args) {
    if (what === "Array.prototype.flatMap") {
      const fn = args[0], thisArg = args[1];
      if (typeof fn !== "function") return apply(original, self, args);
      return apply(original, self, [function (item, index, array) {
        const mapped = apply(fn, thisArg, [item, index, array]);
        if (isArray(mapped)) checkLength(what, mapped);
        return mapped;
      }]);
    }
    const depth = args[0] === undefined ? 1 : toNumber(args[0]);
    // Index-based: the guest may have replaced Array.prototype.push and pop.
    const stack = [self], depths = [0];
    let top = 1, seen = 0;
    while (top > 0) {
      top--;
      const array = stack[top], level = depths[top];
      const n = checkLength(what, array);
      if (level >= depth) continue;
      for (let i = 0; i < n; i++) {
        if (++seen > maxLength) {
          throw new RangeError(
            "Cannot run " + what + ": over " + maxLength + " nested elements",
          );
        }
        if (isArray(array[i])) {
          stack[top] = array[i];
          depths[top] = level + 1;
          top++;
        }
      }
    }
    return apply(original, self, [depth]);
  }
  return {
    array: function (name, original, what, self, args, length) {
      if (name === "concat") {
        // concat walks every array argument up to its length, holes included.
        for (let a = 0; a < args.length; a++) {
          if (isArray(args[a])) checkLength(what, args[a]);
        }
      } else if (name === "flat" || name === "flatMap") {
        return flat(original, what, self, args);
      } else if (name === "sort" || name === "toSorted") {
        if (length > 1) {
          checkWork(
            what,
            length * ceil(log2(length)) * longestString(self, length),
          );
        }
      } else if (typeof args[0] === "string") {
        checkWork(what, length * args[0].length);
      }
      return apply(original, self, args);
    },
    search: function (original, what, self, args) {
      // Convert once here: a toString that answers short, then long, must not pass.
      const text = toString(self), pattern = toString(args[0]);
      checkWork(what, text.length * pattern.length);
      if (text.length > 1000) checkpoint();
      const rest = [pattern];
      for (let a = 1; a < args.length; a++) rest[a] = args[a];
      return apply(original, text, rest);
    },
  };
}
