/* autograd_viz stepper: steps through the forward and backward pass drawn in the inline SVG.
   Public contract: window.autogradViz = {steps, index, next(), prev(), goto(i)}; the sentence is in #av-step-text. */
(function () {
  "use strict";
  var T0 = performance.now();
  var D = JSON.parse(document.getElementById("av-data").textContent);
  var steps = D.steps;
  var NONFINITE = { nan: NaN, inf: Infinity, "-inf": -Infinity };
  function num(v) { return typeof v === "string" ? NONFINITE[v] : v; }
  function nums(list) { return list ? list.map(num) : list; }
  steps.forEach(function (s) {
    s.value = num(s.value);
    if (s.total !== null && s.total !== undefined) { s.total = num(s.total); }
    if (s.array) { s.array = nums(s.array); }
    if (s.total_array) { s.total_array = nums(s.total_array); }
    if (s.quiz) {
      s.quiz.answer = num(s.quiz.answer);
      s.quiz.hints.forEach(function (h) { h[0] = num(h[0]); });
    }
  });

  var svg = document.getElementById("av-svg");
  var canvas = document.getElementById("av-canvas");
  // Split the drawing into stacked SVG layers of at most LAYER groups: Chromium repaints a whole inline SVG
  // when any element in it changes (~60 ms at 2,000 boxes), so a step then repaints one small layer (~5 ms).
  var LAYER = 200;
  var layers = [svg];
  (function split() {
    var root = svg.querySelector("g.graph");
    if (!root) { return; }
    var groups = Array.prototype.filter.call(root.children, function (k) { return k.tagName === "g"; });
    for (var i = LAYER; i < groups.length; i += LAYER) {
      var shell = svg.cloneNode(false), inner = root.cloneNode(false);
      shell.removeAttribute("id");
      shell.setAttribute("class", "av-layer");
      shell.appendChild(inner);
      groups.slice(i, i + LAYER).forEach(function (g) { inner.appendChild(g); });
      canvas.appendChild(shell);
      layers.push(shell);
    }
    svg.setAttribute("class", "av-layer");
  })();
  var textBox = document.getElementById("av-step-text");
  var counter = document.getElementById("av-counter");
  var cache = {};
  function el(id) {
    if (!(id in cache)) { cache[id] = document.getElementById(id); }
    return cache[id];
  }

  // per box: the steps that change it (ascending); per edge: the step that draws it
  var nodeSteps = {};
  var edgeStep = {};
  var firstBackward = steps.length;
  steps.forEach(function (s, i) {
    (nodeSteps[s.node] = nodeSteps[s.node] || []).push(i);
    if (s.edge) { edgeStep[s.edge] = i; }
    (s.inputs || []).forEach(function (e) { edgeStep[e] = i; });
    if (s.kind === "backward" && i < firstBackward) { firstBackward = i; }
  });
  var answered = {};
  var correct = 0;
  var index = -1;

  function lastAtOrBefore(list, j) {
    var lo = 0, hi = list.length - 1, found = -1;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1;
      if (list[mid] <= j) { found = list[mid]; lo = mid + 1; } else { hi = mid - 1; }
    }
    return found;
  }

  // Painting writes presentation attributes (fill, stroke) only: in Chromium a class or text change inside a
  // large SVG costs a relayout of the whole drawing (~100 ms at 2,000 boxes), a fill attribute ~1 ms.
  var PENDING = { fill: "#f4f4f4", stroke: "#c4c4c4", text: "#9a9a9a" };
  var HOT = "#d9480f";
  var boxes = {};
  function attr(node, name, value) {
    if (!node) { return; }
    if (value === null) { if (node.hasAttribute(name)) { node.removeAttribute(name); } }
    else if (node.getAttribute(name) !== value) { node.setAttribute(name, value); }
  }
  // The middle of a box, read from its outline's coordinates: no layout is forced while the page starts.
  function centreX(shape, text) {
    var raw = shape && (shape.getAttribute("d") || shape.getAttribute("points"));
    var nums = raw ? raw.match(/-?\d+(\.\d+)?/g) : null;
    if (!nums || nums.length < 4) { var bb = text.getBBox(); return String(bb.x + bb.width / 2); }
    var lo = Infinity, hi = -Infinity;
    for (var k = 0; k + 1 < nums.length; k += 2) { var x = Number(nums[k]); lo = Math.min(lo, x); hi = Math.max(hi, x); }
    return String((lo + hi) / 2);
  }
  function box(id, centre) {
    if (id in boxes) { return boxes[id]; }
    var g = el(id), b = null;
    if (g) {
      var shape = g.querySelector("path, polygon");
      b = { g: g, shape: shape, fill: shape && shape.getAttribute("fill"), stroke: shape && shape.getAttribute("stroke"),
            texts: [], values: {}, value: null };
      Array.prototype.forEach.call(g.querySelectorAll("text"), function (t) {
        if (t.getAttribute("fill") === D.mark) {
          if (!b.value) { b.value = t; b.values[t.textContent] = t; }
        } else {
          b.texts.push({ node: t, fill: t.getAttribute("fill") });
        }
      });
      var wanted = {};
      (nodeSteps[id] || []).forEach(function (i) {
        wanted[steps[i].shown] = 1;
        if (D.quiz && steps[i].quiz) { wanted["?"] = 1; }
      });
      var extra = Object.keys(wanted).filter(function (text) { return !(text in b.values); });
      if (b.value && extra.length) {  // one text per value the box will show (a running sum): toggled by fill
        var t = b.value, cx = centre;
        if (cx === undefined) { cx = centreX(b.shape, t); }
        t.setAttribute("x", cx);
        t.setAttribute("text-anchor", "middle");
        extra.forEach(function (text) {
          var c = t.cloneNode(false);
          c.textContent = text;
          t.parentNode.appendChild(c);
          b.values[text] = c;
        });
      }
    }
    boxes[id] = b;
    return b;
  }

  function asking(i) { return D.quiz && i >= 0 && steps[i].quiz && !answered[i]; }

  function paintNode(id, j) {
    var b = box(id);
    if (!b) { return; }
    var s = lastAtOrBefore(nodeSteps[id], j);
    var cur = j >= 0 ? steps[j] : null;
    var fill = b.fill, stroke = b.stroke, state = "shown";
    if (s < 0) { fill = PENDING.fill; stroke = PENDING.stroke; state = "pending"; }
    if (cur && cur.from === id) { stroke = HOT; }
    if (cur && cur.node === id) { fill = "#ffe08a"; stroke = HOT; state = "current"; }
    attr(b.shape, "fill", fill);
    attr(b.shape, "stroke", stroke);
    b.texts.forEach(function (t) { attr(t.node, "fill", s < 0 ? PENDING.text : t.fill); });
    var ask = s >= 0 && asking(s);
    var want = s < 0 ? null : ask ? "?" : steps[s].shown;
    var color = ask ? "#c0172d" : s >= 0 && steps[s].kind === "backward" && !steps[s].complete ? "#8a4b00" : "#111111";
    Object.keys(b.values).forEach(function (text) { attr(b.values[text], "fill", text === want ? color : D.mark); });
    attr(b.g, "data-av", state + (ask ? " ask" : ""));
  }

  var edges = {};
  function paintEdge(id, j) {
    var e = edges[id];
    if (e === undefined) {
      var g = el(id);
      e = edges[id] = g ? { path: g.querySelector("path"), head: g.querySelector("polygon"), text: g.querySelector("text") } : null;
      if (e) {
        e.stroke = e.path && e.path.getAttribute("stroke");
        e.fill = e.head && e.head.getAttribute("fill");
        e.textFill = e.text && e.text.getAttribute("fill");
        e.g = g;
      }
    }
    if (!e) { return; }
    var cur = j >= 0 ? steps[j] : null;
    var hot = cur && (cur.edge === id || (cur.inputs || []).indexOf(id) >= 0);
    var pending = edgeStep[id] > j;
    var color = hot ? HOT : pending ? "#dadada" : null;
    attr(e.path, "stroke", color || e.stroke);
    attr(e.head, "stroke", color || e.stroke);
    attr(e.head, "fill", color || e.fill);
    attr(e.text, "fill", hot ? HOT : pending ? "#b8b8b8" : e.textFill);
    attr(e.g, "data-av", hot ? "current" : pending ? "pending" : "done");
  }

  function touched(s, into) {
    into.nodes[s.node] = 1;
    if (s.from) { into.nodes[s.from] = 1; }
    if (s.edge) { into.edges[s.edge] = 1; }
    (s.inputs || []).forEach(function (e) { into.edges[e] = 1; });
  }

  function describe(j) {
    textBox.classList.remove("av-forward", "av-backward");
    if (j < 0) {
      textBox.textContent = "Press → (or ▶) to start: " + firstBackward + " forward steps, then " +
        (steps.length - firstBackward) + " backward steps.";
    } else {
      var s = steps[j];
      textBox.classList.add(s.kind === "forward" ? "av-forward" : "av-backward");
      textBox.textContent = asking(j) ? s.quiz.ask : s.text;
    }
    counter.textContent = "step " + (j + 1) + " / " + steps.length +
      (j >= 0 ? (steps[j].kind === "forward" ? " · forward" : " · backward") : "");
    showQuiz(j);
  }

  function render(from, to) {
    var set = { nodes: {}, edges: {} };
    var lo = Math.min(from, to), hi = Math.max(from, to);
    for (var k = lo + 1; k <= hi; k++) { touched(steps[k], set); }
    if (from >= 0) { touched(steps[from], set); }
    if (to >= 0) { touched(steps[to], set); }
    Object.keys(set.nodes).forEach(function (id) { paintNode(id, to); });
    Object.keys(set.edges).forEach(function (id) { paintEdge(id, to); });
    describe(to);
    if (to >= 0 && follow.checked) { reveal(steps[to].node); }
  }

  function goto(i) {
    i = Math.max(-1, Math.min(steps.length - 1, Math.floor(Number(i))));
    if (isNaN(i)) { return index; }
    var from = index;
    index = i;
    api.index = i;
    render(from, i);
    return i;
  }
  function next() { if (index >= steps.length - 1) { pause(); return index; } return goto(index + 1); }
  function prev() { return goto(index - 1); }

  // --- play / pause --------------------------------------------------------------------------------------------
  var timer = null;
  var playButton = document.getElementById("av-play");
  var speed = document.getElementById("av-speed");
  function play() {
    if (timer) { return; }
    if (index >= steps.length - 1) { goto(-1); }
    timer = setInterval(next, Number(speed.value));
    playButton.textContent = "pause";
  }
  function pause() {
    if (timer) { clearInterval(timer); timer = null; }
    playButton.textContent = "play";
  }
  speed.addEventListener("change", function () { if (timer) { pause(); play(); } });

  // --- quiz ----------------------------------------------------------------------------------------------------
  var quizBox = document.getElementById("av-quiz");
  var askBox = document.getElementById("av-ask");
  var answerBox = document.getElementById("av-answer");
  var feedback = document.getElementById("av-feedback");
  var score = document.getElementById("av-score");
  var asked = steps.filter(function (s) { return s.quiz; }).length;
  function close(a, b) { return Math.abs(a - b) <= 5e-3 * Math.abs(b) + 1e-9; }  // as _close in stepper.py
  function showQuiz(j) {
    if (!D.quiz) { return; }
    var open = asking(j);
    quizBox.hidden = !(j >= 0 && steps[j].quiz);
    askBox.textContent = j >= 0 && steps[j].quiz ? (open ? "your answer:" : "answered ✓") : "";
    answerBox.disabled = !open;
    if (!open) { answerBox.value = ""; }
    feedback.textContent = "";
    feedback.className = "";
    score.textContent = correct + " / " + asked + " right";
  }
  function settle(j) {
    answered[j] = true;
    paintNode(steps[j].node, index);
    describe(index);
  }
  function answer(text) {
    var s = index >= 0 ? steps[index] : null;
    if (!s || !s.quiz) { return { correct: false, hint: "there is nothing to answer at this step" }; }
    if (answered[index]) { return { correct: true, hint: "" }; }
    var raw = String(text).trim().replace(/\u2212/g, "-").replace(/,/g, ".");
    var value = raw === "" ? NaN : Number(raw);
    var result;
    if (isNaN(value)) {
      result = { correct: false, hint: "type a number, e.g. -0.125" };
    } else if (close(value, s.quiz.answer)) {
      correct += 1;
      result = { correct: true, hint: "" };
    } else {
      var hint = s.quiz.hint;
      for (var k = 0; k < s.quiz.hints.length; k++) {
        if (close(value, s.quiz.hints[k][0])) { hint = s.quiz.hints[k][1]; break; }
      }
      result = { correct: false, hint: hint };
    }
    if (result.correct) {
      var at = index;
      settle(at);
      feedback.textContent = "right: " + s.text;
      feedback.className = "av-right";
    } else {
      feedback.textContent = "not yet: " + result.hint;
      feedback.className = "av-wrong";
    }
    return result;
  }
  function revealAnswer() {
    if (index >= 0 && steps[index].quiz && !answered[index]) { settle(index); }
  }
  document.getElementById("av-check").addEventListener("click", function () { answer(answerBox.value); });
  document.getElementById("av-reveal").addEventListener("click", revealAnswer);
  answerBox.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter") { ev.preventDefault(); answer(answerBox.value); }
  });

  // --- zoom and pan --------------------------------------------------------------------------------------------
  var base = svg.viewBox.baseVal;
  var home = { x: base.x, y: base.y, w: base.width, h: base.height };
  var view = { x: home.x, y: home.y, w: home.w, h: home.h };
  function applyView() {
    var box = view.x + " " + view.y + " " + view.w + " " + view.h;
    layers.forEach(function (layer) { layer.setAttribute("viewBox", box); });
  }
  function unitsPerPixel() {
    var r = canvas.getBoundingClientRect();
    return Math.max(view.w / Math.max(r.width, 1), view.h / Math.max(r.height, 1));
  }
  function zoom(factor, cx, cy) {
    var r = canvas.getBoundingClientRect(), u = unitsPerPixel();
    var px = cx === undefined ? r.width / 2 : cx, py = cy === undefined ? r.height / 2 : cy;
    // the viewBox point under the pointer stays put
    var ox = view.x + (view.w - r.width * u) / 2 + px * u, oy = view.y + (view.h - r.height * u) / 2 + py * u;
    view.w *= factor; view.h *= factor;
    u *= factor;
    view.x = ox - px * u - (view.w - r.width * u) / 2;
    view.y = oy - py * u - (view.h - r.height * u) / 2;
    applyView();
  }
  function fit() { view = { x: home.x, y: home.y, w: home.w, h: home.h }; applyView(); }
  function reveal(id) {
    var g = el(id);
    if (!g) { return; }
    var c = canvas.getBoundingClientRect(), b = g.getBoundingClientRect();
    if (b.left >= c.left && b.right <= c.right && b.top >= c.top && b.bottom <= c.bottom) { return; }
    var u = unitsPerPixel();
    view.x += ((b.left + b.right) / 2 - (c.left + c.right) / 2) * u;
    view.y += ((b.top + b.bottom) / 2 - (c.top + c.bottom) / 2) * u;
    applyView();
  }
  canvas.addEventListener("wheel", function (ev) {
    ev.preventDefault();
    var r = canvas.getBoundingClientRect();
    zoom(ev.deltaY > 0 ? 1.15 : 1 / 1.15, ev.clientX - r.left, ev.clientY - r.top);
  }, { passive: false });
  var drag = null;
  canvas.addEventListener("mousedown", function (ev) {
    drag = { x: ev.clientX, y: ev.clientY, vx: view.x, vy: view.y, moved: false };
  });
  window.addEventListener("mousemove", function (ev) {
    if (!drag) { return; }
    var dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) { drag.moved = true; canvas.classList.add("av-dragging"); }
    if (drag.moved) {
      var u = unitsPerPixel();
      view.x = drag.vx - dx * u; view.y = drag.vy - dy * u;
      applyView();
    }
  });
  window.addEventListener("mouseup", function () {
    canvas.classList.remove("av-dragging");
    setTimeout(function () { drag = null; }, 0);
  });

  // --- details panel -------------------------------------------------------------------------------------------
  var details = document.getElementById("av-details");
  function esc(text) {
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }
  function heat(values, shape) {
    var rows = shape.length === 2 ? shape[0] : 1, cols = shape.length === 2 ? shape[1] : values.length;
    var top = 0;
    values.forEach(function (v) { if (isFinite(v)) { top = Math.max(top, Math.abs(v)); } });
    var cells = values.map(function (v) {
      var a = top > 0 && isFinite(v) ? Math.abs(v) / top : 0;
      var color = v >= 0 ? "rgba(192,23,45," + a.toFixed(3) + ")" : "rgba(31,95,191," + a.toFixed(3) + ")";
      return '<span title="' + esc(v) + '" style="background:' + color + '"></span>';
    });
    return '<div class="av-heat" style="grid-template-columns:repeat(' + cols + ',12px)" data-rows="' + rows +
      '">' + cells.join("") + "</div>";
  }
  function gradientKnown(key) {
    var id = "g" + key, list = nodeSteps[id];
    if (!D.quiz) { return true; }
    if (!list) { return false; }
    var last = list[list.length - 1];
    return last <= index && !asking(last);
  }
  function showDetails(id) {
    var key = id.slice(1), info = D.nodes["n" + key];
    if (!info) { return; }
    var rows = [["role", info.role]];
    if (info.op) { rows.push(["op", info.op], ["formula", info.formula]); }
    if (info.shape) { rows.push(["shape", "(" + info.shape.join(", ") + ")"], ["dtype", info.dtype]); }
    rows.push(["value", info.value.join("; ")]);
    if (info.grad) { rows.push(["gradient", gradientKnown(key) ? info.grad.join("; ") : "(answer the quiz first)"]); }
    var out = "<h3>" + esc(info.label) + "</h3><table>" + rows.map(function (r) {
      return "<tr><td>" + esc(r[0]) + "</td><td>" + esc(r[1]) + "</td></tr>";
    }).join("") + "</table>";
    if (info.locals && info.locals.length) {
      out += "<p>local derivatives:</p><table>" + info.locals.map(function (l) {
        return "<tr><td>∂" + esc(info.label) + "/∂" + esc(l[0]) + "</td><td>= " + esc(l[1]) +
          (l[2] && l[2] !== l[1] ? " = " + esc(l[2]) : "") + "</td></tr>";
      }).join("") + "</table>";
    }
    if (info.array && info.shape) { out += "<p>values (red +, blue −):</p>" + heat(nums(info.array), info.shape); }
    details.innerHTML = out;
  }
  function boxOf(target) {
    var g = target.closest ? target.closest("g.node") : null;
    return g && g.id && /^[ng]\d+$/.test(g.id) ? g.id : null;
  }
  canvas.addEventListener("click", function (ev) {
    if (drag && drag.moved) { return; }
    var id = boxOf(ev.target);
    if (id) { showDetails(id); return; }
    var cl = ev.target.closest ? ev.target.closest("g.cluster") : null;
    if (cl && ev.target.tagName === "text") { toggleCluster(cl.id); }
  });
  canvas.addEventListener("mouseover", function (ev) { var id = boxOf(ev.target); if (id) { showDetails(id); } });

  // --- layer clusters ------------------------------------------------------------------------------------------
  var clusters = {};
  D.clusters.forEach(function (c) { clusters[c.id] = c; });
  function setCluster(id, collapsed) {
    var c = clusters[id], g = el(id);
    if (!c || !g) { return; }
    g.classList.toggle("av-collapsed", collapsed);
    c.members.concat(c.edges || []).forEach(function (m) { if (el(m)) { el(m).classList.toggle("av-hidden", collapsed); } });
    var label = g.querySelector("text");
    if (label) {
      if (c.label === undefined) { c.label = label.textContent; }
      label.textContent = collapsed ? c.label + " ▸ (" + c.members.length + " boxes)" : c.label;
    }
    c.collapsed = collapsed;
  }
  function toggleCluster(id) { if (clusters[id]) { setCluster(id, !clusters[id].collapsed); } }
  var allCollapsed = false;
  document.getElementById("av-collapse").addEventListener("click", function () {
    allCollapsed = !allCollapsed;
    Object.keys(clusters).forEach(function (id) { setCluster(id, allCollapsed); });
  });

  // --- buttons and keys ----------------------------------------------------------------------------------------
  document.getElementById("av-start").addEventListener("click", function () { pause(); goto(-1); });
  document.getElementById("av-prev").addEventListener("click", function () { pause(); prev(); });
  document.getElementById("av-next").addEventListener("click", function () { pause(); next(); });
  document.getElementById("av-end").addEventListener("click", function () { pause(); goto(steps.length - 1); });
  playButton.addEventListener("click", function () { if (timer) { pause(); } else { play(); } });
  document.getElementById("av-zoom-in").addEventListener("click", function () { zoom(1 / 1.25); });
  document.getElementById("av-zoom-out").addEventListener("click", function () { zoom(1.25); });
  document.getElementById("av-fit").addEventListener("click", fit);
  var follow = document.getElementById("av-follow");
  document.addEventListener("keydown", function (ev) {
    var tag = ev.target && ev.target.tagName;
    if (tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA" || ev.altKey || ev.ctrlKey || ev.metaKey) { return; }
    var handled = true;
    switch (ev.key) {
      case "ArrowRight": pause(); next(); break;
      case "ArrowLeft": pause(); prev(); break;
      case "Home": pause(); goto(-1); break;
      case "End": pause(); goto(steps.length - 1); break;
      case " ": if (timer) { pause(); } else { play(); } break;
      case "+": case "=": zoom(1 / 1.25); break;
      case "-": zoom(1.25); break;
      case "0": fit(); break;
      default: handled = false;
    }
    if (handled) { ev.preventDefault(); }
  });

  // every stepped box and edge starts pending; boxes that will show several values (running sums) get one text
  // per value now, in one batch (measure all, then insert all), so stepping never changes text
  var ids = Object.keys(nodeSteps);
  ids.forEach(function (id) { box(id); });
  ids.forEach(function (id) { paintNode(id, -1); });
  Object.keys(edgeStep).forEach(function (id) { paintEdge(id, -1); });

  function shown(id) {  // the value a box shows now ("" when none): for tests and tools
    var b = box(id);
    if (!b) { return null; }
    var texts = Object.keys(b.values).filter(function (t) { return b.values[t].getAttribute("fill") !== D.mark; });
    return texts.length ? texts[0] : "";
  }

  var api = {
    steps: steps, index: -1, next: next, prev: prev, goto: goto, play: play, pause: pause,
    answer: answer, reveal: revealAnswer, quiz: D.quiz, nodes: D.nodes, clusters: D.clusters,
    collapse: setCluster, shown: shown, ready: true
  };
  window.autogradViz = api;
  describe(-1);
  api.initMs = performance.now() - T0;  // the script's own start-up (the benchmark reports it)
})();
