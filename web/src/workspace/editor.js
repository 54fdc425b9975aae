// The documents resource: Tiptap (ProseMirror) over the room's Y.XmlFragment `document`, with
// y-tiptap's binding (a y-prosemirror fork), shared carets and per-user undo.
import { Editor } from '@tiptap/core'
import StarterKit from '@tiptap/starter-kit'
import Collaboration from '@tiptap/extension-collaboration'
import CollaborationCaret from '@tiptap/extension-collaboration-caret'
import { yUndoPluginKey } from '@tiptap/y-tiptap'
import { h } from '../shared/dom.js'
import { icon } from './icons.js'

const BLOCKS = [
  { id: 'paragraph', label: 'Text', title: 'Normal text', is: e => e.isActive('paragraph'), run: c => c.setParagraph() },
  { id: 'h1', label: 'H1', title: 'Heading 1', is: e => e.isActive('heading', { level: 1 }), run: c => c.toggleHeading({ level: 1 }) },
  { id: 'h2', label: 'H2', title: 'Heading 2', is: e => e.isActive('heading', { level: 2 }), run: c => c.toggleHeading({ level: 2 }) },
  { id: 'h3', label: 'H3', title: 'Heading 3', is: e => e.isActive('heading', { level: 3 }), run: c => c.toggleHeading({ level: 3 }) }
]

export class DocumentPanel {
  constructor (room, { user, onUndoChange }) {
    this.room = room
    this.onUndoChange = onUndoChange
    this.buttons = []

    const mod = /Mac|iPhone|iPad/.test(navigator.platform || '') ? '⌘' : 'Ctrl+'
    const tb = (id, label, title, run, isActive, iconName) => {
      const b = h('button', {
        class: 'btn ghost tb', type: 'button', title, 'aria-label': title, dataset: { cmd: id },
        'aria-pressed': isActive ? 'false' : undefined,
        onMousedown: (e) => e.preventDefault(), // keep the editor's selection
        onClick: () => { run(this.editor.chain().focus()).run(); this.refresh() }
      }, iconName ? icon(iconName) : label)
      this.buttons.push({ b, isActive })
      return b
    }

    this.linkInput = h('input', { class: 'input', type: 'text', inputmode: 'url', autocomplete: 'off', placeholder: 'https://…', 'aria-label': 'Link address' })
    this.linkBar = h('form', {
      class: 'linkbar', hidden: true,
      onSubmit: (e) => { e.preventDefault(); this.applyLink() }
    }, icon('link'), this.linkInput,
    h('button', { class: 'btn primary', type: 'submit' }, 'Apply'),
    h('button', { class: 'btn', type: 'button', onClick: () => { this.editor.chain().focus().extendMarkRange('link').unsetLink().run(); this.closeLink() } }, 'Remove'),
    h('button', { class: 'btn ghost', type: 'button', onClick: () => this.closeLink() }, 'Cancel'))
    this.linkInput.addEventListener('keydown', (e) => { if (e.key === 'Escape') { e.preventDefault(); this.closeLink() } })

    this.toolbar = h('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Formatting' },
      h('div', { class: 'group' }, BLOCKS.map(bl => tb(bl.id, bl.label, bl.title, bl.run, bl.is))),
      h('div', { class: 'sep' }),
      h('div', { class: 'group' },
        tb('bold', 'B', `Bold (${mod}B)`, c => c.toggleBold(), e => e.isActive('bold'), 'bold'),
        tb('italic', 'I', `Italic (${mod}I)`, c => c.toggleItalic(), e => e.isActive('italic'), 'italic'),
        tb('link', 'Link', `Link (${mod}K)`, () => ({ run: () => this.openLink() }), e => e.isActive('link'), 'link')),
      h('div', { class: 'sep' }),
      h('div', { class: 'group' },
        tb('bulletList', '•', 'Bulleted list', c => c.toggleBulletList(), e => e.isActive('bulletList'), 'bullets'),
        tb('orderedList', '1.', 'Numbered list', c => c.toggleOrderedList(), e => e.isActive('orderedList'), 'numbers')))

    this.mount = h('div', { class: 'doc-page' })
    this.el = h('section', { class: 'panel doc-panel', id: 'panel-doc', role: 'tabpanel', 'aria-labelledby': 'tab-doc' },
      h('div', { class: 'doc-toolbar-wrap' }, this.toolbar, this.linkBar),
      h('div', { class: 'doc-scroll' }, this.mount))

    this.editor = new Editor({
      element: this.mount,
      extensions: [
        StarterKit.configure({
          undoRedo: false, // Collaboration brings Y.UndoManager-based undo
          link: { openOnClick: false, autolink: true, defaultProtocol: 'https' }
        }),
        Collaboration.configure({ document: room.doc, field: 'document' }),
        CollaborationCaret.configure({ provider: room.provider, user })
      ],
      editorProps: {
        attributes: { class: 'prose', 'aria-label': 'Document', 'aria-multiline': 'true', role: 'textbox', spellcheck: 'true' },
        handleKeyDown: (_view, e) => {
          if ((e.ctrlKey || e.metaKey) && !e.altKey && e.key.toLowerCase() === 'k') { e.preventDefault(); this.openLink(); return true }
          return false
        }
      }
    })
    this.editor.on('transaction', () => this.refresh())
    this.editor.on('selectionUpdate', () => this.refresh())
    this.editor.on('focus', () => this.refresh())
    const um = this.undoManager
    if (um) for (const ev of ['stack-item-added', 'stack-item-popped', 'stack-cleared']) um.on(ev, () => this.onUndoChange?.())
    this.refresh()
  }

  get undoManager () { return yUndoPluginKey.getState(this.editor.state)?.undoManager }
  canUndo () { return (this.undoManager?.undoStack.length ?? 0) > 0 }
  canRedo () { return (this.undoManager?.redoStack.length ?? 0) > 0 }
  undo () { this.editor.chain().focus().undo().run() }
  redo () { this.editor.chain().focus().redo().run() }

  setUser (user) { this.editor.commands.updateUser(user) }

  focus () { this.editor.commands.focus() }

  refresh () {
    if (!this.editor) return
    for (const { b, isActive } of this.buttons) {
      if (isActive) b.setAttribute('aria-pressed', String(!!isActive(this.editor)))
    }
  }

  openLink () {
    this.linkBar.hidden = false
    this.linkInput.value = this.editor.getAttributes('link').href || ''
    this.linkInput.focus()
    this.linkInput.select()
  }

  closeLink () {
    this.linkBar.hidden = true
    this.editor.commands.focus()
  }

  applyLink () {
    let href = this.linkInput.value.trim()
    const chain = this.editor.chain().focus().extendMarkRange('link')
    if (!href) { chain.unsetLink().run(); this.closeLink(); return }
    if (!/^[a-z][a-z0-9+.-]*:/i.test(href) && !href.startsWith('/') && !href.startsWith('#')) href = `https://${href}`
    const { empty } = this.editor.state.selection
    if (empty && !this.editor.isActive('link')) {
      chain.insertContent({ type: 'text', text: href, marks: [{ type: 'link', attrs: { href } }] }).run()
    } else {
      chain.setLink({ href }).run()
    }
    this.closeLink()
  }

  destroy () { this.editor.destroy() }
}
